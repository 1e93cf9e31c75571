package rules_test

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/kinns/kinns/proxy/rules"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current rendering")

func (c renderCase) render() rules.Output {
	cfg := c.cfg
	if cfg.NodeName == "" {
		cfg = testNode
	}
	return rules.Render(cfg, c.services, c.slices, c.existing)
}

func TestRenderGolden(t *testing.T) {
	for _, c := range renderCases() {
		t.Run(c.name, func(t *testing.T) {
			got := c.render().Text
			path := filepath.Join("testdata", c.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("rendering differs from %s (go test -update rewrites it):\n%s", path, got)
			}
		})
	}
}

// A rendering depends on its inputs, not on the order the informer caches
// list them in.
func TestRenderIsDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range renderCases() {
		want := c.render().Text
		for range 5 {
			shuffled := c
			shuffled.services = shuffle(rng, c.services)
			shuffled.slices = shuffle(rng, c.slices)
			shuffled.existing.NAT = shuffle(rng, c.existing.NAT)
			if got := shuffled.render().Text; !bytes.Equal(got, want) {
				t.Fatalf("%s: shuffled input renders differently:\n%s\nwant:\n%s", c.name, got, want)
			}
		}
	}
}

func shuffle[T any](rng *rand.Rand, in []T) []T {
	out := append([]T(nil), in...)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

var (
	declRE = regexp.MustCompile(`(?m)^:(\S+) - \[0:0\]$`)
	ruleRE = regexp.MustCompile(`(?m)^-A `)
	delRE  = regexp.MustCompile(`(?m)^-X (\S+)$`)
)

// Chain names fit in iptables' 28 characters and carry our prefix, and the
// counts match the text.
func TestRenderChainNamesAndCounts(t *testing.T) {
	for _, c := range renderCases() {
		out := c.render()
		text := string(out.Text)
		decls := declRE.FindAllStringSubmatch(text, -1)
		for _, d := range decls {
			if len(d[1]) > 28 || !strings.HasPrefix(d[1], rules.Prefix) {
				t.Errorf("%s: chain %q: want %s prefix and at most 28 characters", c.name, d[1], rules.Prefix)
			}
		}
		deleted := len(delRE.FindAllString(text, -1))
		if got := len(decls) - deleted; got != out.Chains {
			t.Errorf("%s: Chains = %d, text declares %d kept chains", c.name, out.Chains, got)
		}
		if got := len(ruleRE.FindAllString(text, -1)); got != out.Rules {
			t.Errorf("%s: Rules = %d, text has %d", c.name, out.Rules, got)
		}
	}
}

// Stale chains of ours are flushed and deleted; other chains are left
// alone, even ones that look like another proxy's.
func TestRenderDeletesOnlyOurStaleChains(t *testing.T) {
	var c renderCase
	for _, rc := range renderCases() {
		if rc.name == "stale-chains" {
			c = rc
		}
	}
	got := delRE.FindAllStringSubmatch(string(c.render().Text), -1)
	var deleted []string
	for _, m := range got {
		deleted = append(deleted, m[1])
	}
	want := []string{"KINNS-NODEPORTS", "KINNS-SEP-GONEGONEGONEGONE", "KINNS-SVC-OLDOLDOLDOLDOLDO"}
	if strings.Join(deleted, " ") != strings.Join(want, " ") {
		t.Errorf("deleted %v, want %v", deleted, want)
	}
}

func TestRenderHealthChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		slice *discoveryv1.EndpointSlice
		want  int
	}{
		{"local endpoint", tcpSlice("web", 8080, webEndpoints()...), 1},
		{"none here", tcpSlice("web", 8080, remoteEndpoints()...), 0},
		{"terminating here", tcpSlice("web", 8080, endpoint("10.244.1.5", "node-1", terminating(true))), 0},
	} {
		svc := service("web", "10.96.0.10", nodePortHTTP(30080), loadBalancer("192.0.2.10"), externalLocal(31000))
		plain := service("plain", "10.96.0.11", nodePortHTTP(30081), nodePortType)
		out := rules.Render(testNode, []*v1.Service{svc, plain}, []*discoveryv1.EndpointSlice{tc.slice}, rules.Existing{})
		hc, ok := out.HealthChecks[31000]
		if len(out.HealthChecks) != 1 || !ok {
			t.Fatalf("%s: HealthChecks = %v, want only port 31000", tc.name, out.HealthChecks)
		}
		if hc.Service.String() != "default/web" || hc.LocalEndpoints != tc.want {
			t.Errorf("%s: got %+v, want default/web with %d local endpoints", tc.name, hc, tc.want)
		}
	}
}

func TestRenderUDPServices(t *testing.T) {
	svcs := []*v1.Service{
		service("dns", "10.96.0.53", []v1.ServicePort{port("dns", v1.ProtocolUDP, 53, 30053), port("dns-tcp", v1.ProtocolTCP, 53, 30054)}, nodePortType),
		service("empty", "10.96.0.54", []v1.ServicePort{port("syslog", v1.ProtocolUDP, 514, 0)}),
	}
	slices := []*discoveryv1.EndpointSlice{slice("dns", "dns-1",
		[]discoveryv1.EndpointPort{slicePort("dns", v1.ProtocolUDP, 5353), slicePort("dns-tcp", v1.ProtocolTCP, 5353)},
		endpoint("10.244.2.9", "node-2"), endpoint("10.244.1.9", "node-1"), endpoint("10.244.1.8", "node-1", notReady))}
	out := rules.Render(testNode, svcs, slices, rules.Existing{})
	if len(out.UDP) != 2 {
		t.Fatalf("UDP = %+v, want dns and empty", out.UDP)
	}
	dns, empty := out.UDP[0], out.UDP[1]
	if dns.ClusterIPs[0].String() != "10.96.0.53" || dns.Port != 53 || dns.NodePort != 30053 ||
		len(dns.Endpoints) != 2 || dns.Endpoints[0].String() != "10.244.1.9:5353" || dns.Endpoints[1].String() != "10.244.2.9:5353" {
		t.Errorf("dns = %+v", dns)
	}
	if empty.Port != 514 || len(empty.Endpoints) != 0 {
		t.Errorf("empty = %+v, want port 514 without endpoints", empty)
	}
}

// Headless, ExternalName and IPv6-only Services render nothing beyond the
// top-level chains.
func TestRenderSkipsUnservableServices(t *testing.T) {
	var skipped, empty rules.Output
	for _, c := range renderCases() {
		switch c.name {
		case "skipped":
			skipped = c.render()
		case "empty":
			empty = c.render()
		}
	}
	if !bytes.Equal(skipped.Text, empty.Text) || len(skipped.UDP) != 0 || len(skipped.HealthChecks) != 0 {
		t.Errorf("skipped Services rendered something:\n%s", skipped.Text)
	}
}
