package endpoints

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
)

// harness drives a Controller on a fake clientset, copying the clientset's
// objects into the informer stores before each sync instead of running the
// informers, so every step is deterministic.
type harness struct {
	t       *testing.T
	client  *fake.Clientset
	factory informers.SharedInformerFactory
	c       *Controller
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(deps.Deps{Client: client, Factory: factory, Recorder: events.NewFakeRecorder(100)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, client: client, factory: factory, c: c}
}

func (h *harness) sync(key string) {
	h.t.Helper()
	ctx := context.Background()
	h.refresh(ctx)
	if err := h.c.Sync(ctx, key); err != nil {
		h.t.Fatalf("sync %s: %v", key, err)
	}
}

func (h *harness) refresh(ctx context.Context) {
	h.t.Helper()
	v1 := h.client.CoreV1()
	svcs, _ := v1.Services("").List(ctx, metav1.ListOptions{})
	pods, _ := v1.Pods("").List(ctx, metav1.ListOptions{})
	eps, _ := v1.Endpoints("").List(ctx, metav1.ListOptions{})
	sls, _ := h.client.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{})
	replace(h.t, h.factory.Core().V1().Services().Informer().GetStore(), svcs.Items)
	replace(h.t, h.factory.Core().V1().Pods().Informer().GetStore(), pods.Items)
	replace(h.t, h.factory.Core().V1().Endpoints().Informer().GetStore(), eps.Items)
	replace(h.t, h.factory.Discovery().V1().EndpointSlices().Informer().GetStore(), sls.Items)
}

func replace[T any](t *testing.T, store interface {
	Replace([]any, string) error
}, items []T) {
	t.Helper()
	list := make([]any, 0, len(items))
	for i := range items {
		list = append(list, &items[i])
	}
	if err := store.Replace(list, ""); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) slices() []discoveryv1.EndpointSlice {
	l, err := h.client.DiscoveryV1().EndpointSlices("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return l.Items
}

func (h *harness) endpoints(name string) *corev1.Endpoints {
	ep, err := h.client.CoreV1().Endpoints("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return ep
}

func TestSyncFollowsPodReadinessAndDeletion(t *testing.T) {
	svc := service("web", httpPort(intstr.FromString("http")))
	h := newHarness(t, svc, pod("a", "web", "10.244.1.2"), pod("b", "web", "10.244.2.2", notReady, onNode("node-2")), pod("other", "db", "10.244.1.7"))
	h.sync("default/web")

	sl := h.slices()
	if len(sl) != 1 || len(sl[0].Endpoints) != 2 {
		t.Fatalf("want one slice with 2 endpoints, got %+v", sl)
	}
	ep := h.endpoints("web")
	if ep == nil || len(ep.Subsets[0].Addresses) != 1 || len(ep.Subsets[0].NotReadyAddresses) != 1 {
		t.Fatalf("endpoints: %+v", ep)
	}

	// b becomes ready, a starts terminating.
	b := pod("b", "web", "10.244.2.2", onNode("node-2"))
	a := pod("a", "web", "10.244.1.2", terminating)
	ctx := context.Background()
	h.client.CoreV1().Pods("default").Update(ctx, b, metav1.UpdateOptions{})
	h.client.CoreV1().Pods("default").Update(ctx, a, metav1.UpdateOptions{})
	h.sync("default/web")
	got := conditionsByIP(t, ptrs(h.slices()))
	want := map[string]cond{"10.244.1.2": {false, true, true}, "10.244.2.2": {true, true, false}}
	if !equalConds(got, want) {
		t.Fatalf("after change: %v, want %v", got, want)
	}
	ep = h.endpoints("web")
	if len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 1 || ep.Subsets[0].Addresses[0].IP != "10.244.2.2" || len(ep.Subsets[0].NotReadyAddresses) != 0 {
		t.Fatalf("endpoints after change: %+v", ep.Subsets)
	}

	// Idempotent: a second sync changes nothing.
	before := len(h.client.Actions())
	h.sync("default/web")
	for _, a := range h.client.Actions()[before:] {
		if a.GetVerb() != "list" && a.GetVerb() != "watch" {
			t.Errorf("unexpected write on a steady state: %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}

	// The Service goes: its slices and Endpoints go with it.
	h.client.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{})
	h.sync("default/web")
	if len(h.slices()) != 0 || h.endpoints("web") != nil {
		t.Fatalf("left behind: %d slices, endpoints %v", len(h.slices()), h.endpoints("web"))
	}
}

func TestSyncLeavesForeignObjectsAlone(t *testing.T) {
	// The API server's own `kubernetes` Service has no selector; its slice and
	// Endpoints carry no managed-by label of ours.
	kube := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"}}
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
		Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes"}}, AddressType: discoveryv1.AddressTypeIPv4}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"}}
	h := newHarness(t, kube, slice, ep)
	h.sync("default/kubernetes")
	if len(h.slices()) != 1 || h.endpoints("kubernetes") == nil {
		t.Fatal("foreign slice or endpoints removed")
	}
}

func TestSyncRecreatesDeletedSlice(t *testing.T) {
	h := newHarness(t, service("web", httpPort(intstr.FromInt32(8080))), pod("a", "web", "10.244.1.2"))
	h.sync("default/web")
	name := h.slices()[0].Name
	h.client.DiscoveryV1().EndpointSlices("default").Delete(context.Background(), name, metav1.DeleteOptions{})
	h.sync("default/web")
	if s := h.slices(); len(s) != 1 || s[0].Name != name {
		t.Fatalf("slice not recreated: %+v", s)
	}
}

func TestPodEventsQueueMatchingServices(t *testing.T) {
	h := newHarness(t)
	store := h.factory.Core().V1().Services().Informer().GetStore()
	store.Add(service("web", httpPort(intstr.FromInt32(80))))
	store.Add(service("db", httpPort(intstr.FromInt32(80))))
	h.c.enqueuePod(pod("a", "web", "10.244.1.2"))
	if h.c.queue.Len() != 1 {
		t.Fatalf("queue length %d, want 1", h.c.queue.Len())
	}
	k, _ := h.c.queue.Get()
	if k != "default/web" {
		t.Fatalf("queued %q", k)
	}
}

func ptrs(s []discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice {
	out := make([]*discoveryv1.EndpointSlice, len(s))
	for i := range s {
		out[i] = &s[i]
	}
	return out
}

// TestSyncRemovesThePlaceholderBeforeTheNewSlices checks the order of the
// writes when a Service's first pods come: the empty placeholder is deleted
// before the slices with endpoints are created, so nobody lists all the
// endpoints beside a slice with no ports (upstream's EndpointSlice
// conformance test fails on that). A stale slice with endpoints is deleted
// after its successor is created.
func TestSyncRemovesThePlaceholderBeforeTheNewSlices(t *testing.T) {
	h := newHarness(t, service("web", httpPort(intstr.FromString("http"))))
	h.sync("default/web")
	sl := h.slices()
	if len(sl) != 1 || len(sl[0].Endpoints) != 0 || len(sl[0].Ports) != 0 {
		t.Fatalf("want one empty placeholder, got %+v", sl)
	}
	placeholder := sl[0].Name

	// Two pods whose named port resolves differently: two slices.
	ctx := context.Background()
	a, b := pod("a", "web", "10.244.1.2"), pod("b", "web", "10.244.2.2", onNode("node-2"))
	b.Spec.Containers[0].Ports[0].ContainerPort++
	h.client.CoreV1().Pods("default").Create(ctx, a, metav1.CreateOptions{})
	h.client.CoreV1().Pods("default").Create(ctx, b, metav1.CreateOptions{})
	writes := func(from int) []string {
		var w []string
		for _, act := range h.client.Actions()[from:] {
			if act.GetResource().Resource == "endpointslices" && (act.GetVerb() == "create" || act.GetVerb() == "delete") {
				w = append(w, act.GetVerb())
			}
		}
		return w
	}
	before := len(h.client.Actions())
	h.sync("default/web")
	if got := writes(before); len(got) != 3 || got[0] != "delete" {
		t.Fatalf("writes %v: want the placeholder's delete, then 2 creates", got)
	}
	sl = h.slices()
	if len(sl) != 2 || sl[0].Name == placeholder || sl[1].Name == placeholder {
		t.Fatalf("want 2 slices with endpoints, got %+v", sl)
	}

	// The port changes: each slice with endpoints is replaced, the new one
	// first.
	svc := service("web", httpPort(intstr.FromInt32(9090)))
	h.client.CoreV1().Services("default").Update(ctx, svc, metav1.UpdateOptions{})
	before = len(h.client.Actions())
	h.sync("default/web")
	if got := writes(before); len(got) != 3 || got[0] != "create" || got[1] != "delete" || got[2] != "delete" {
		t.Fatalf("writes %v: want the create of the new slice, then 2 deletes", got)
	}
}
