package cloud

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func lbService(name string, status ...string) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
	for _, a := range status {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: a})
	}
	return s
}

func node(name, addr string, ready bool) *corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}},
		Addresses:  []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: addr}},
	}}
}

// fakeFabric records what it was asked to route.
type fakeFabric struct {
	mu     sync.Mutex
	routes map[netip.Addr][]netip.Addr
	err    error
}

func (f *fakeFabric) Sync(_ context.Context, want map[netip.Addr][]netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.routes = want
	return nil
}

func (f *fakeFabric) now() map[netip.Addr][]netip.Addr {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.routes
}

// testRouter is a provider on a pool of two addresses, routed by a fake
// fabric, with node-1 and node-2 Ready and every check passing.
func testRouter(t *testing.T, nodes ...*corev1.Node) (*Provider, *router, *fakeFabric) {
	t.Helper()
	pool, err := NewPool("10.89.0.200-10.89.0.201")
	if err != nil {
		t.Fatal(err)
	}
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, n := range nodes {
		idx.Add(n)
	}
	p := NewProvider("t", pool)
	f := &fakeFabric{}
	ok := func(context.Context, string) error { return nil }
	r := newRouter(p, f, corelisters.NewNodeLister(idx), newChecker(ok, time.Second), 10256, time.Second, discard())
	return p, r, f
}

func TestProviderAllocatesRoutesAndReleases(t *testing.T) {
	ctx := context.Background()
	n1, n2 := node("node-1", "10.89.0.21", true), node("node-2", "10.89.0.22", true)
	p, r, f := testRouter(t, n1, n2)
	st, err := p.EnsureLoadBalancer(ctx, "t", lbService("web"), []*corev1.Node{n2, n1})
	if err != nil || st.Ingress[0].IP != "10.89.0.200" || *st.Ingress[0].IPMode != corev1.LoadBalancerIPModeVIP {
		t.Fatalf("ensure: %v, %v", st, err)
	}
	if err := r.sync(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[netip.Addr][]netip.Addr{ip("10.89.0.200"): {ip("10.89.0.21"), ip("10.89.0.22")}}
	if !reflect.DeepEqual(f.now(), want) {
		t.Fatalf("routes %v, want %v", f.now(), want)
	}
	if err := p.UpdateLoadBalancer(ctx, "t", lbService("web"), []*corev1.Node{n2}); err != nil {
		t.Fatal(err)
	}
	r.sync(ctx)
	if got := f.now()[ip("10.89.0.200")]; !reflect.DeepEqual(got, []netip.Addr{ip("10.89.0.22")}) {
		t.Errorf("after an update to node-2 only: %v", got)
	}
	if st, exists, _ := p.GetLoadBalancer(ctx, "t", lbService("web")); !exists || st.Ingress[0].IP != "10.89.0.200" {
		t.Errorf("get: %v %v", st, exists)
	}
	if err := p.EnsureLoadBalancerDeleted(ctx, "t", lbService("web")); err != nil {
		t.Fatal(err)
	}
	if len(f.now()) != 0 {
		t.Errorf("routes after delete: %v", f.now())
	}
	if _, exists, _ := p.GetLoadBalancer(ctx, "t", lbService("web")); exists {
		t.Error("still exists after delete")
	}
}

// A released address keeps its route until the fabric has removed it:
// the next Service gets it only then.
func TestProviderKeepsAnAddressWhoseRouteCouldNotBeRemoved(t *testing.T) {
	ctx := context.Background()
	p, _, f := testRouter(t, node("node-1", "10.89.0.21", true))
	p.EnsureLoadBalancer(ctx, "t", lbService("a"), nil)
	p.EnsureLoadBalancer(ctx, "t", lbService("b"), nil)
	f.err = errors.New("netlink: no")
	if err := p.EnsureLoadBalancerDeleted(ctx, "t", lbService("a")); err == nil {
		t.Fatal("delete succeeded with a failing fabric")
	}
	if _, err := p.EnsureLoadBalancer(ctx, "t", lbService("c"), nil); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("c: %v, want the pool still exhausted", err)
	}
	f.err = nil
	if err := p.EnsureLoadBalancerDeleted(ctx, "t", lbService("a")); err != nil {
		t.Fatal(err)
	}
	if st, err := p.EnsureLoadBalancer(ctx, "t", lbService("c"), nil); err != nil || st.Ingress[0].IP != "10.89.0.200" {
		t.Fatalf("c after the release: %v, %v", st, err)
	}
}

func TestProviderExhaustedPoolSaysSo(t *testing.T) {
	ctx := context.Background()
	p, _, _ := testRouter(t)
	p.EnsureLoadBalancer(ctx, "t", lbService("a"), nil)
	p.EnsureLoadBalancer(ctx, "t", lbService("b"), nil)
	_, err := p.EnsureLoadBalancer(ctx, "t", lbService("c"), nil)
	want := "no address for default/c: address pool exhausted: all 2 addresses of 10.89.0.200-10.89.0.201 are in use"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// A Service that has an address in its status keeps it: seeded before
// any allocation (a restarted manager), or asked for by Ensure.
func TestProviderKeepsStatusAddresses(t *testing.T) {
	ctx := context.Background()
	p, r, f := testRouter(t, node("node-1", "10.89.0.21", true), node("node-2", "10.89.0.22", false))
	if !p.Seed(lbService("old", "10.89.0.201"), []string{"node-1", "node-2"}) {
		t.Fatal("seed")
	}
	r.sync(ctx)
	if got := f.now()[ip("10.89.0.201")]; !reflect.DeepEqual(got, []netip.Addr{ip("10.89.0.21")}) {
		t.Errorf("seeded route %v, want node-1 (node-2 not Ready)", got)
	}
	st, _ := p.EnsureLoadBalancer(ctx, "t", lbService("new"), nil)
	if st.Ingress[0].IP != "10.89.0.200" {
		t.Errorf("new got %s", st.Ingress[0].IP)
	}
	st, _ = p.EnsureLoadBalancer(ctx, "t", lbService("old", "10.89.0.201"), nil)
	if st.Ingress[0].IP != "10.89.0.201" {
		t.Errorf("old got %s after its seed", st.Ingress[0].IP)
	}
}

func TestProviderInstances(t *testing.T) {
	p, _, _ := testRouter(t)
	md, err := p.InstanceMetadata(context.Background(), node("node-2", "10.89.0.22", true))
	if err != nil || md.ProviderID != "kinns://t/node-2" || len(md.NodeAddresses) != 2 {
		t.Errorf("metadata %+v, %v", md, err)
	}
	if lb, ok := p.LoadBalancer(); !ok || lb == nil {
		t.Error("no load balancer")
	}
	if _, ok := p.Instances(); ok {
		t.Error("Instances (v1) supported")
	}
}
