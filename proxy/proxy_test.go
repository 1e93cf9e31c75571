package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kinns/kinns/proxy/internal/iptrace"
	"github.com/kinns/kinns/proxy/rules"
)

var (
	nodeIP    = netip.MustParseAddr("10.89.0.21")
	podIP     = netip.MustParseAddr("10.244.1.9")
	clusterIP = netip.MustParseAddr("10.96.0.50")
)

type testProxy struct {
	client *fake.Clientset
	ipt    *fakeIPTables
	ct     *fakeConntrack
	hc     func() *healthChecks
}

// startProxy runs a proxy on fakes until the test ends, and waits for its
// first sync.
func startProxy(t *testing.T, objs ...any) *testProxy {
	t.Helper()
	tp := &testProxy{client: fake.NewClientset(), ipt: newFakeIPTables(), ct: &fakeConntrack{}}
	tp.ipt.rs.Local = []netip.Addr{nodeIP}
	for _, o := range objs {
		tp.create(t, o)
	}
	cfg, err := parse(Config{NodeName: "node-1", NodeIP: nodeIP.String(), ClusterCIDR: "10.244.0.0/16",
		MinSyncPeriod: time.Millisecond, SyncPeriod: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- run(ctx, cfg, deps{client: tp.client, ipt: tp.ipt, ct: tp.ct}, func() { close(ready) })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("no first sync")
	}
	return tp
}

func (tp *testProxy) create(t *testing.T, o any) {
	t.Helper()
	var err error
	switch o := o.(type) {
	case *v1.Service:
		_, err = tp.client.CoreV1().Services(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
	case *discoveryv1.EndpointSlice:
		_, err = tp.client.DiscoveryV1().EndpointSlices(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
}

func service(name string, proto v1.Protocol, mut ...func(*v1.Service)) *v1.Service {
	s := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: v1.ServiceSpec{
			Type: v1.ServiceTypeClusterIP, ClusterIP: clusterIP.String(), ClusterIPs: []string{clusterIP.String()},
			Ports: []v1.ServicePort{{Name: "p", Protocol: proto, Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	for _, f := range mut {
		f(s)
	}
	return s
}

func slice(svc string, proto v1.Protocol, eps map[string]string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: svc + "-abc", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: new("p"), Protocol: &proto, Port: new(int32(8080))}},
	}
	for ip, node := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: new(node), Conditions: discoveryv1.EndpointConditions{Ready: new(true)}})
	}
	slices.SortFunc(s.Endpoints, func(a, b discoveryv1.Endpoint) int { return compare(a.Addresses[0], b.Addresses[0]) })
	return s
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// destinations traces a new connection and returns where it can go.
func (tp *testProxy) destinations(t *testing.T, h iptrace.Hook, src, dst netip.Addr, proto string, port uint16) []string {
	t.Helper()
	res, err := tp.ipt.trace(h, iptrace.Packet{Src: src, Dst: dst, Proto: proto, DPort: port})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range res.Outcomes {
		if o.DNAT {
			out = append(out, o.Dst.String())
		} else {
			out = append(out, o.Verdict)
		}
	}
	return out
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting until %s", what)
}

func TestProxyProgramsAServiceAndFollowsItsEndpoints(t *testing.T) {
	tp := startProxy(t, service("web", v1.ProtocolTCP), slice("web", v1.ProtocolTCP, map[string]string{"10.244.1.5": "node-1", "10.244.2.6": "node-2"}))
	got := tp.destinations(t, iptrace.PreRouting, podIP, clusterIP, "tcp", 80)
	if !slices.Equal(got, []string{"10.244.1.5:8080", "10.244.2.6:8080"}) {
		t.Fatalf("pod -> ClusterIP goes to %v", got)
	}
	// One endpoint leaves: the rules follow without waiting for a resync.
	s := slice("web", v1.ProtocolTCP, map[string]string{"10.244.2.6": "node-2"})
	if _, err := tp.client.DiscoveryV1().EndpointSlices("default").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the rules follow the endpoints", func() bool {
		return slices.Equal(tp.destinations(t, iptrace.PreRouting, podIP, clusterIP, "tcp", 80), []string{"10.244.2.6:8080"})
	})
	// The jumps from the built-in chains are made once, not at every sync.
	for _, j := range rules.Jumps() {
		n := 0
		for _, r := range tp.ipt.rules(j.Table, j.Chain) {
			if strings.HasSuffix(r, "-j "+target(j.Args)) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s/%s has %d jumps to %s", j.Table, j.Chain, n, target(j.Args))
		}
	}
}

func TestProxyRepairsRulesChangedByHand(t *testing.T) {
	tp := startProxy(t, service("web", v1.ProtocolTCP), slice("web", v1.ProtocolTCP, map[string]string{"10.244.1.5": "node-1"}))
	// As `iptables -t nat -F KINNS-SERVICES` would.
	if err := tp.ipt.Restore(context.Background(), []byte("*nat\n:KINNS-SERVICES - [0:0]\nCOMMIT\n")); err != nil {
		t.Fatal(err)
	}
	if got := tp.destinations(t, iptrace.PreRouting, podIP, clusterIP, "tcp", 80); slices.Contains(got, "10.244.1.5:8080") {
		t.Fatalf("the flush did not take: %v", got)
	}
	eventually(t, "the resync puts the rules back", func() bool {
		return slices.Equal(tp.destinations(t, iptrace.PreRouting, podIP, clusterIP, "tcp", 80), []string{"10.244.1.5:8080"})
	})
}

func TestProxyRetriesAFailedSync(t *testing.T) {
	tp := startProxy(t)
	tp.ipt.mu.Lock()
	tp.ipt.fail = errors.New("xtables lock held")
	tp.ipt.mu.Unlock()
	tp.create(t, service("web", v1.ProtocolTCP))
	tp.create(t, slice("web", v1.ProtocolTCP, map[string]string{"10.244.1.5": "node-1"}))
	eventually(t, "a later sync applies the change", func() bool {
		return slices.Equal(tp.destinations(t, iptrace.PreRouting, podIP, clusterIP, "tcp", 80), []string{"10.244.1.5:8080"})
	})
}

func TestProxyClearsUDPConntrackOfGoneEndpoints(t *testing.T) {
	tp := startProxy(t, service("dns", v1.ProtocolUDP))
	if got := tp.destinations(t, iptrace.PreRouting, podIP, clusterIP, "udp", 80); !slices.Equal(got, []string{"REJECT"}) {
		t.Fatalf("UDP service with no endpoints: %v", got)
	}
	tp.create(t, slice("dns", v1.ProtocolUDP, map[string]string{"10.244.1.5": "node-1"}))
	eventually(t, "entries made while it had no endpoints are cleared", func() bool {
		return slices.Contains(tp.ct.list(), "service 10.96.0.50:80")
	})
	s := slice("dns", v1.ProtocolUDP, map[string]string{"10.244.2.7": "node-2"})
	if _, err := tp.client.DiscoveryV1().EndpointSlices("default").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "entries to the replaced endpoint are cleared", func() bool {
		return slices.Contains(tp.ct.list(), "endpoint 10.244.1.5:8080")
	})
	if slices.Contains(tp.ct.list(), "endpoint 10.244.2.7:8080") {
		t.Errorf("cleared the live endpoint: %v", tp.ct.list())
	}
}

// TestProxyClearsUnansweredTCPOfGoneEndpoints: a connection attempt left
// unanswered by an endpoint that died must not catch a later connection
// that reuses its source port.
func TestProxyClearsUnansweredTCPOfGoneEndpoints(t *testing.T) {
	tp := startProxy(t, service("web", v1.ProtocolTCP), slice("web", v1.ProtocolTCP, map[string]string{"10.244.1.5": "node-1", "10.244.3.2": "node-3"}))
	eventually(t, "both endpoints in the rules", func() bool {
		return len(tp.destinations(t, iptrace.PreRouting, podIP, clusterIP, "tcp", 80)) == 2
	})
	s := slice("web", v1.ProtocolTCP, map[string]string{"10.244.1.5": "node-1"})
	if _, err := tp.client.DiscoveryV1().EndpointSlices("default").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the gone endpoint's unanswered attempts are cleared", func() bool {
		return slices.Contains(tp.ct.list(), "unanswered tcp 10.244.3.2:8080")
	})
	tp.ct.mu.Lock()
	services := tp.ct.services
	tp.ct.mu.Unlock()
	if !slices.Contains(services, netip.MustParseAddrPort("10.96.0.50:80")) {
		t.Errorf("the ClusterIP with endpoints is not among the services whose un-DNATed attempts are cleared: %v", services)
	}
	for _, c := range tp.ct.list() {
		if strings.Contains(c, "10.244.1.5") || strings.HasPrefix(c, "endpoint") {
			t.Errorf("cleared %q: only the gone endpoint's unanswered TCP attempts should go", c)
		}
	}
}

// TestProxyMakesNoWrites: the proxy reads the API and writes nothing
// (claim 10); the kubelet is the node's messenger.
func TestProxyMakesNoWrites(t *testing.T) {
	tp := startProxy(t, service("web", v1.ProtocolTCP), slice("web", v1.ProtocolTCP, map[string]string{"10.244.1.5": "node-1"}))
	time.Sleep(300 * time.Millisecond) // a resync too
	for _, a := range tp.client.Actions() {
		if v := a.GetVerb(); v != "list" && v != "watch" && v != "create" && v != "update" {
			t.Errorf("proxy called %s %s", v, a.GetResource().Resource)
		}
	}
	// The creates and updates above are the test's own; count them.
	writes := 0
	for _, a := range tp.client.Actions() {
		if a.GetVerb() != "list" && a.GetVerb() != "watch" {
			writes++
		}
	}
	if writes != 2 {
		t.Errorf("%d writes, the test made 2: %v", writes, tp.client.Actions())
	}
}

func TestHealthCheckNodePortSaysWhetherTheNodeHasLocalEndpoints(t *testing.T) {
	h := newHealthChecks("127.0.0.1", nil)
	h.log = discard()
	defer h.closeAll()
	port := freePort(t)
	svc := rules.HealthCheck{Service: key("default", "web"), LocalEndpoints: 2}
	h.set(map[int32]rules.HealthCheck{port: svc})
	code, body := get(t, port)
	if code != http.StatusOK || body["localEndpoints"] != float64(2) {
		t.Fatalf("with 2 local endpoints: %d %v", code, body)
	}
	svc.LocalEndpoints = 0
	h.set(map[int32]rules.HealthCheck{port: svc})
	if code, _ := get(t, port); code != http.StatusServiceUnavailable {
		t.Fatalf("with none: %d", code)
	}
	h.set(nil)
	if _, err := http.Get("http://127.0.0.1:" + strconv.Itoa(int(port))); err == nil {
		t.Fatal("the port of a removed health check still answers")
	}
}

func TestHealthzFollowsSyncs(t *testing.T) {
	now := time.Unix(1000, 0)
	z := &healthz{syncPeriod: time.Second, now: func() time.Time { return now }}
	if z.check() == nil {
		t.Fatal("healthy before any sync")
	}
	z.synced(now)
	z.changed()
	now = now.Add(time.Second)
	if err := z.check(); err != nil {
		t.Fatalf("a change pending for 1 s of a 1 s period: %v", err)
	}
	now = now.Add(2 * time.Second)
	if z.check() == nil {
		t.Fatal("healthy with a change pending for 3 s")
	}
	z.synced(now)
	if err := z.check(); err != nil {
		t.Fatalf("after the sync: %v", err)
	}
}

func freePort(t *testing.T) int32 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

func get(t *testing.T, port int32) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(int(port)) + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}
