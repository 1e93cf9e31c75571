package nodeipam

import (
	"context"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
)

func TestCIDRSetTopDownAndRelease(t *testing.T) {
	s, err := NewCIDRSet(netip.MustParsePrefix("10.244.0.0/16"), 24)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Occupy(netip.MustParsePrefix("10.244.255.0/24"), "node-255"); c != "" {
		t.Fatal(c)
	}
	got, _ := s.Allocate("x")
	if got.String() != "10.244.254.0/24" {
		t.Fatalf("first allocation %s", got)
	}
	if c := s.Occupy(got, "y"); c != "x" {
		t.Fatalf("conflict not reported: %q", c)
	}
	s.Release(got, "y") // not y's: no effect
	if s.Owner(got) != "x" {
		t.Fatal("released by a non-owner")
	}
	s.Release(got, "x")
	again, _ := s.Allocate("z")
	if again != got {
		t.Fatalf("released block not reused: %s", again)
	}
	if c := s.Occupy(netip.MustParsePrefix("192.168.0.0/24"), "n"); c != "" {
		t.Fatal("outside range should be ignored")
	}
}

func TestCIDRSetFull(t *testing.T) {
	s, _ := NewCIDRSet(netip.MustParsePrefix("10.0.0.0/30"), 30)
	if _, err := s.Allocate("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Allocate("b"); err != ErrFull {
		t.Fatalf("want ErrFull, got %v", err)
	}
	if _, err := NewCIDRSet(netip.MustParsePrefix("10.0.0.0/8"), 28); err == nil {
		t.Fatal("too many blocks accepted")
	}
}

func node(name, cidr string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if cidr != "" {
		n.Spec.PodCIDR, n.Spec.PodCIDRs = cidr, []string{cidr}
	}
	return n
}

type harness struct {
	t      *testing.T
	client *fake.Clientset
	store  interface{ Replace([]any, string) error }
	c      *Controller
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(deps.Deps{Client: client, Factory: factory, Recorder: events.NewFakeRecorder(10)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, client: client, store: factory.Core().V1().Nodes().Informer().GetStore(), c: c}
}

// refresh copies the fake API's nodes into the cache.
func (h *harness) refresh() {
	l, _ := h.client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	var objs []any
	for i := range l.Items {
		objs = append(objs, &l.Items[i])
	}
	h.store.Replace(objs, "")
}

func (h *harness) cidr(name string) string {
	n, err := h.client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
		h.t.Fatalf("podCIDR %q and podCIDRs %v disagree", n.Spec.PodCIDR, n.Spec.PodCIDRs)
	}
	return n.Spec.PodCIDR
}

func (h *harness) sync(name string) {
	h.t.Helper()
	if err := h.c.Sync(context.Background(), name); err != nil {
		h.t.Fatal(err)
	}
}

func TestAssignsOnceAndRespectsKubeletBlocks(t *testing.T) {
	h := newHarness(t, node("node-1", "10.244.1.0/24"), node("node-255", "10.244.255.0/24"), node("extra", ""))
	h.refresh()
	h.sync("node-1")
	if h.cidr("node-1") != "10.244.1.0/24" {
		t.Fatal("kubelet block changed")
	}
	h.sync("extra")
	if got := h.cidr("extra"); got != "10.244.254.0/24" {
		t.Fatalf("extra got %s, want 10.244.254.0/24 (255 is node-255's)", got)
	}
	// A second sync on a stale cache (extra still without CIDR) reuses the
	// same block instead of taking another one.
	h.sync("extra")
	if h.cidr("extra") != "10.244.254.0/24" || h.c.set.Owner(netip.MustParsePrefix("10.244.253.0/24")) != "" {
		t.Fatal("second block taken for the same node")
	}
	h.refresh()
	h.sync("extra")

	// Another node gets the next block; deleting extra frees its block.
	h.client.CoreV1().Nodes().Create(context.Background(), node("other", ""), metav1.CreateOptions{})
	h.refresh()
	h.sync("other")
	if h.cidr("other") != "10.244.253.0/24" {
		t.Fatalf("other got %s", h.cidr("other"))
	}
	h.client.CoreV1().Nodes().Delete(context.Background(), "extra", metav1.DeleteOptions{})
	h.refresh()
	h.sync("extra")
	h.client.CoreV1().Nodes().Create(context.Background(), node("third", ""), metav1.CreateOptions{})
	h.refresh()
	h.sync("third")
	if h.cidr("third") != "10.244.254.0/24" {
		t.Fatalf("freed block not reused: %s", h.cidr("third"))
	}
}

func TestNeverGivesAKubeletBlockAway(t *testing.T) {
	// The cluster range is tiny so that allocation reaches the kubelet blocks.
	client := fake.NewClientset(node("node-1", "10.0.0.4/30"), node("a", ""), node("b", ""))
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(deps.Deps{Client: client, Factory: factory}, Options{ClusterCIDR: netip.MustParsePrefix("10.0.0.0/29"), NodeMaskSize: 30})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	for i := range l.Items {
		factory.Core().V1().Nodes().Informer().GetStore().Add(&l.Items[i])
	}
	if err := c.Sync(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(context.Background(), "b"); err == nil {
		t.Fatal("b got a block though the range is full")
	}
	n, _ := client.CoreV1().Nodes().Get(context.Background(), "a", metav1.GetOptions{})
	if n.Spec.PodCIDR != "10.0.0.0/30" {
		t.Fatalf("a got %s", n.Spec.PodCIDR)
	}
}
