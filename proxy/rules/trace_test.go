package rules_test

import (
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/kinns/kinns/proxy/internal/iptrace"
	"github.com/kinns/kinns/proxy/rules"
)

// Addresses of the clients in the traces.
var (
	podIP     = netip.MustParseAddr("10.244.1.20") // a pod on this node
	remotePod = netip.MustParseAddr("10.244.2.30") // a pod on node-2
	outsider  = netip.MustParseAddr("10.89.0.100") // a host on the node network
)

// load parses a rendering as this node's iptables would hold it once the
// proxy has added the Jumps.
func load(t *testing.T, out rules.Output) *iptrace.Ruleset {
	t.Helper()
	rs, err := iptrace.Parse(out.Text)
	if err != nil {
		t.Fatalf("parse rendering: %v\n%s", err, out.Text)
	}
	installJumps(t, rs)
	rs.Local = []netip.Addr{nodeIP, cni0IP}
	return rs
}

func installJumps(t *testing.T, rs *iptrace.Ruleset) {
	t.Helper()
	for _, j := range rules.Jumps() {
		if err := rs.AppendRule(j.Table, j.Chain, j.Args...); err != nil {
			t.Fatalf("install jump %v: %v", j, err)
		}
	}
}

func loadCase(t *testing.T, name string) *iptrace.Ruleset {
	t.Helper()
	for _, c := range renderCases() {
		if c.name == name {
			return load(t, c.render())
		}
	}
	t.Fatalf("no render case %q", name)
	return nil
}

func tcpTo(src, dst netip.Addr, port uint16) iptrace.Packet {
	return iptrace.Packet{Src: src, Dst: dst, Proto: "tcp", DPort: port}
}

func trace(t *testing.T, rs *iptrace.Ruleset, h iptrace.Hook, p iptrace.Packet) iptrace.Result {
	t.Helper()
	res, err := rs.Trace(h, p)
	if err != nil {
		t.Fatalf("trace %+v: %v", p, err)
	}
	return res
}

// want is what a test expects of a trace: every outcome accepted, each
// listed destination reached with the same probability, masquerade as
// given for each.
type want struct {
	dnat       []string
	masquerade map[string]bool // by destination; missing means false
}

func expectBalanced(t *testing.T, res iptrace.Result, w want) {
	t.Helper()
	var got []string
	for _, o := range res.Outcomes {
		got = append(got, o.Dst.String())
		if o.Verdict != "ACCEPT" || !o.DNAT {
			t.Errorf("outcome %s: %s, DNAT %v; want ACCEPT after DNAT\n%s", o.Dst, o.Verdict, o.DNAT, res)
		}
		if math.Abs(o.Probability-1/float64(len(w.dnat))) > 1e-6 {
			t.Errorf("outcome %s has probability %.9f, want 1/%d\n%s", o.Dst, o.Probability, len(w.dnat), res)
		}
		if o.Masquerade != w.masquerade[o.Dst.String()] {
			t.Errorf("outcome %s: masquerade %v, want %v\n%s", o.Dst, o.Masquerade, !o.Masquerade, res)
		}
	}
	if !slices.Equal(got, w.dnat) {
		t.Errorf("DNAT to %v, want %v\n%s", got, w.dnat, res)
	}
}

func expectVerdict(t *testing.T, res iptrace.Result, verdict string) {
	t.Helper()
	if len(res.Outcomes) != 1 || res.Outcomes[0].Verdict != verdict || res.Outcomes[0].DNAT {
		t.Errorf("want a single %s without DNAT, got:\n%s", verdict, res)
	}
}

var webDests = []string{"10.244.1.5:8080", "10.244.2.6:8080", "10.244.2.7:8080"}

func all(dests []string) map[string]bool {
	m := make(map[string]bool)
	for _, d := range dests {
		m[d] = true
	}
	return m
}

var clusterIP = netip.MustParseAddr("10.96.0.10")

func TestTracePodToClusterIP(t *testing.T) {
	rs := loadCase(t, "clusterip-three-endpoints")
	res := trace(t, rs, iptrace.PreRouting, tcpTo(podIP, clusterIP, 80))
	expectBalanced(t, res, want{dnat: webDests})
	// A pod on another node reaches the ClusterIP through its own node's
	// rules, but one routed here is treated the same.
	expectBalanced(t, trace(t, rs, iptrace.PreRouting, tcpTo(remotePod, clusterIP, 80)), want{dnat: webDests})
}

func TestTraceNodeToClusterIPIsMasqueraded(t *testing.T) {
	rs := loadCase(t, "clusterip-three-endpoints")
	res := trace(t, rs, iptrace.Output, tcpTo(nodeIP, clusterIP, 80))
	expectBalanced(t, res, want{dnat: webDests, masquerade: all(webDests)})
}

func TestTraceOtherPortIsUntouched(t *testing.T) {
	rs := loadCase(t, "clusterip-three-endpoints")
	res := trace(t, rs, iptrace.PreRouting, tcpTo(podIP, clusterIP, 81))
	expectVerdict(t, res, "ACCEPT")
}

// A pod that the balancing sends back to itself must see the reply come
// from the ClusterIP, so that connection is masqueraded, and only that one.
func TestTraceHairpin(t *testing.T) {
	rs := loadCase(t, "clusterip-three-endpoints")
	self := netip.MustParseAddr("10.244.1.5")
	res := trace(t, rs, iptrace.PreRouting, tcpTo(self, clusterIP, 80))
	expectBalanced(t, res, want{dnat: webDests, masquerade: map[string]bool{"10.244.1.5:8080": true}})
}

func TestTraceUDP(t *testing.T) {
	rs := loadCase(t, "udp")
	p := iptrace.Packet{Src: podIP, Dst: netip.MustParseAddr("10.96.0.53"), Proto: "udp", DPort: 53}
	expectBalanced(t, trace(t, rs, iptrace.PreRouting, p), want{dnat: []string{"10.244.1.9:5353", "10.244.2.9:5353"}})
	p.Proto = "tcp"
	expectVerdict(t, trace(t, rs, iptrace.PreRouting, p), "ACCEPT")
}

func TestTraceMultiPort(t *testing.T) {
	rs := loadCase(t, "multi-port")
	expectBalanced(t, trace(t, rs, iptrace.PreRouting, tcpTo(podIP, clusterIP, 80)),
		want{dnat: []string{"10.244.1.5:8080", "10.244.2.6:8080"}})
	expectBalanced(t, trace(t, rs, iptrace.PreRouting, tcpTo(podIP, clusterIP, 9090)),
		want{dnat: []string{"10.244.1.5:9100", "10.244.2.6:9100"}})
}

func TestTraceNoEndpointsRejects(t *testing.T) {
	rs := loadCase(t, "no-endpoints")
	expectVerdict(t, trace(t, rs, iptrace.PreRouting, tcpTo(podIP, clusterIP, 80)), "REJECT")
	expectVerdict(t, trace(t, rs, iptrace.Output, tcpTo(nodeIP, clusterIP, 80)), "REJECT")
	expectVerdict(t, trace(t, rs, iptrace.PreRouting, tcpTo(outsider, nodeIP, 30080)), "REJECT")
	expectVerdict(t, trace(t, rs, iptrace.Output, tcpTo(nodeIP, nodeIP, 30080)), "REJECT")
	// The rejection is for new connections only.
	p := tcpTo(podIP, clusterIP, 80)
	p.State = "ESTABLISHED"
	expectVerdict(t, trace(t, rs, iptrace.PreRouting, p), "ACCEPT")
}

func TestTraceEndpointConditions(t *testing.T) {
	expectBalanced(t, trace(t, loadCase(t, "not-ready-excluded"), iptrace.PreRouting, tcpTo(podIP, clusterIP, 80)),
		want{dnat: []string{"10.244.2.6:8080"}})
	// Only the terminating endpoint that still serves, since none is ready.
	expectBalanced(t, trace(t, loadCase(t, "terminating-serving-fallback"), iptrace.PreRouting, tcpTo(podIP, clusterIP, 80)),
		want{dnat: []string{"10.244.1.5:8080"}})
}

func TestTraceSessionAffinity(t *testing.T) {
	rs := loadCase(t, "session-affinity")
	remembered := sepChain(t, rs, "10.244.2.7:8080")
	p := tcpTo(podIP, clusterIP, 80)
	expectBalanced(t, trace(t, rs, iptrace.PreRouting, p), want{dnat: []string{"10.244.2.6:8080", "10.244.2.7:8080"}})
	p.Recent = []string{remembered}
	expectBalanced(t, trace(t, rs, iptrace.PreRouting, p), want{dnat: []string{"10.244.2.7:8080"}})
}

// sepChain finds the endpoint chain that DNATs to dest.
func sepChain(t *testing.T, rs *iptrace.Ruleset, dest string) string {
	t.Helper()
	for _, c := range rs.Chains("nat") {
		for _, r := range rs.Rules("nat", c) {
			if strings.HasPrefix(c, "KINNS-SEP-") && strings.HasSuffix(r, "--to-destination "+dest) {
				return c
			}
		}
	}
	t.Fatalf("no endpoint chain for %s", dest)
	return ""
}

func TestTraceNodePortCluster(t *testing.T) {
	rs := loadCase(t, "nodeport-cluster")
	res := trace(t, rs, iptrace.PreRouting, tcpTo(outsider, nodeIP, 30080))
	expectBalanced(t, res, want{dnat: webDests, masquerade: all(webDests)})
	expectBalanced(t, trace(t, rs, iptrace.Output, tcpTo(nodeIP, nodeIP, 30080)), want{dnat: webDests, masquerade: all(webDests)})
	expectVerdict(t, trace(t, rs, iptrace.PreRouting, tcpTo(outsider, nodeIP, 30081)), "ACCEPT")
}

// externalTrafficPolicy Local: outside clients keep their address and
// reach this node's endpoint only; pods and the node itself still reach
// every endpoint, masqueraded.
func TestTraceNodePortLocal(t *testing.T) {
	rs := loadCase(t, "nodeport-local")
	res := trace(t, rs, iptrace.PreRouting, tcpTo(outsider, nodeIP, 30080))
	expectBalanced(t, res, want{dnat: []string{"10.244.1.5:8080"}})
	expectBalanced(t, trace(t, rs, iptrace.PreRouting, tcpTo(remotePod, nodeIP, 30080)), want{dnat: webDests, masquerade: all(webDests)})
	expectBalanced(t, trace(t, rs, iptrace.Output, tcpTo(nodeIP, nodeIP, 30080)), want{dnat: webDests, masquerade: all(webDests)})
}

func TestTraceNodePortLocalWithoutLocalEndpoints(t *testing.T) {
	rs := loadCase(t, "nodeport-local-no-local-endpoints")
	expectVerdict(t, trace(t, rs, iptrace.PreRouting, tcpTo(outsider, nodeIP, 30080)), "DROP")
	remote := []string{"10.244.2.6:8080", "10.244.2.7:8080"}
	expectBalanced(t, trace(t, rs, iptrace.PreRouting, tcpTo(podIP, nodeIP, 30080)), want{dnat: remote, masquerade: all(remote)})
	expectBalanced(t, trace(t, rs, iptrace.Output, tcpTo(nodeIP, nodeIP, 30080)), want{dnat: remote, masquerade: all(remote)})
	expectBalanced(t, trace(t, rs, iptrace.PreRouting, tcpTo(podIP, clusterIP, 80)), want{dnat: remote})
}

func TestTraceInternalTrafficPolicyLocal(t *testing.T) {
	rs := loadCase(t, "internal-local")
	expectBalanced(t, trace(t, rs, iptrace.PreRouting, tcpTo(podIP, clusterIP, 80)), want{dnat: []string{"10.244.1.5:8080"}})
	expectBalanced(t, trace(t, rs, iptrace.Output, tcpTo(nodeIP, clusterIP, 80)),
		want{dnat: []string{"10.244.1.5:8080"}, masquerade: map[string]bool{"10.244.1.5:8080": true}})
	remoteIP := netip.MustParseAddr("10.96.0.11")
	expectVerdict(t, trace(t, rs, iptrace.PreRouting, tcpTo(podIP, remoteIP, 80)), "DROP")
}

func TestTraceLoadBalancer(t *testing.T) {
	lbIP := netip.MustParseAddr("192.0.2.10")
	rs := loadCase(t, "loadbalancer")
	expectBalanced(t, trace(t, rs, iptrace.PreRouting, tcpTo(outsider, lbIP, 80)), want{dnat: webDests, masquerade: all(webDests)})
	expectBalanced(t, trace(t, rs, iptrace.PreRouting, tcpTo(outsider, nodeIP, 30080)), want{dnat: webDests, masquerade: all(webDests)})

	rs = loadCase(t, "loadbalancer-source-ranges")
	allowed := netip.MustParseAddr("203.0.113.7")
	expectBalanced(t, trace(t, rs, iptrace.PreRouting, tcpTo(allowed, lbIP, 80)), want{dnat: webDests, masquerade: all(webDests)})
	expectVerdict(t, trace(t, rs, iptrace.PreRouting, tcpTo(netip.MustParseAddr("198.51.100.7"), lbIP, 80)), "DROP")
	// The ranges guard the LB IP, not the NodePort.
	expectBalanced(t, trace(t, rs, iptrace.PreRouting, tcpTo(netip.MustParseAddr("198.51.100.7"), nodeIP, 30080)),
		want{dnat: webDests, masquerade: all(webDests)})
}

func TestTraceExternalIP(t *testing.T) {
	rs := loadCase(t, "external-ips")
	extIP := netip.MustParseAddr("10.89.0.50")
	expectBalanced(t, trace(t, rs, iptrace.PreRouting, tcpTo(outsider, extIP, 80)), want{dnat: webDests, masquerade: all(webDests)})
}

// Rendering again over the rules of an earlier rendering, with the chains
// that exist, leaves only the new rendering's chains of ours.
func TestTraceStaleChainsAreDeleted(t *testing.T) {
	web := service("web", "10.96.0.10", tcp("http", 80))
	gone := service("gone", "10.96.0.12", nodePortHTTP(30090), nodePortType, clientIPAffinity(0))
	eps := []*discoveryv1.EndpointSlice{tcpSlice("web", 8080, webEndpoints()...), tcpSlice("gone", 8080, remoteEndpoints()...)}
	rs := load(t, rules.Render(testNode, []*v1.Service{web, gone}, eps, rules.Existing{}))
	before := len(rs.Chains("nat"))

	second := rules.Render(testNode, []*v1.Service{web}, eps, rules.Existing{Filter: rs.Chains("filter"), NAT: rs.Chains("nat")})
	if err := rs.Restore(second.Text); err != nil {
		t.Fatalf("restore second rendering over the first: %v\n%s", err, second.Text)
	}
	fresh := load(t, second)
	for _, table := range []string{"filter", "nat"} {
		if got, want := rs.Chains(table), fresh.Chains(table); !slices.Equal(got, want) {
			t.Errorf("%s chains after the second rendering: %v, want %v", table, got, want)
		}
	}
	if len(rs.Chains("nat")) >= before {
		t.Errorf("nat has %d chains, %d before; the gone Service's chains should be deleted", len(rs.Chains("nat")), before)
	}
	expectVerdict(t, trace(t, rs, iptrace.PreRouting, tcpTo(outsider, nodeIP, 30090)), "ACCEPT")
	expectBalanced(t, trace(t, rs, iptrace.PreRouting, tcpTo(podIP, clusterIP, 80)), want{dnat: webDests})
}

// Every golden rendering can be loaded with the jumps and traced.
func TestTraceEveryCaseLoads(t *testing.T) {
	for _, c := range renderCases() {
		rs := load(t, c.render())
		for _, h := range []iptrace.Hook{iptrace.PreRouting, iptrace.Output} {
			if _, err := rs.Trace(h, tcpTo(podIP, clusterIP, 80)); err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
		}
	}
}

// An endpoint listed by two slices (during a resync of the EndpointSlice
// controller) gets its share once, not twice.
func TestTraceDuplicateEndpointsCountOnce(t *testing.T) {
	svc := service("web", "10.96.0.10", tcp("http", 80))
	first := tcpSlice("web", 8080, endpoint("10.244.2.6", "node-2"), endpoint("10.244.2.7", "node-2", notReady))
	second := tcpSlice("web", 8080, endpoint("10.244.2.7", "node-2"), endpoint("10.244.2.6", "node-2"))
	second.Name = "web-fghij"
	rs := load(t, rules.Render(testNode, []*v1.Service{svc}, []*discoveryv1.EndpointSlice{first, second}, rules.Existing{}))
	expectBalanced(t, trace(t, rs, iptrace.PreRouting, tcpTo(podIP, clusterIP, 80)),
		want{dnat: []string{"10.244.2.6:8080", "10.244.2.7:8080"}})
}
