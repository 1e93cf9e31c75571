package serviceaccount

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
)

func ns(name string, phase corev1.NamespacePhase) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: phase}}
}

func TestCreatesDefaultAccountInActiveNamespacesOnly(t *testing.T) {
	ctx := context.Background()
	active, leaving := ns("team", corev1.NamespaceActive), ns("old", corev1.NamespaceTerminating)
	existing := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "kube-system", UID: "keep"}}
	client := fake.NewClientset(active, leaving, ns("kube-system", corev1.NamespaceActive), existing)
	factory := informers.NewSharedInformerFactory(client, 0)
	c := newController(t, client, factory)
	for _, o := range []*corev1.Namespace{active, leaving, ns("kube-system", corev1.NamespaceActive)} {
		factory.Core().V1().Namespaces().Informer().GetStore().Add(o)
	}
	factory.Core().V1().ServiceAccounts().Informer().GetStore().Add(existing)

	for _, key := range []string{"team", "old", "kube-system", "gone"} {
		if err := c.Sync(ctx, key); err != nil {
			t.Fatalf("sync %s: %v", key, err)
		}
	}
	if _, err := client.CoreV1().ServiceAccounts("team").Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Errorf("team has no default account: %v", err)
	}
	if _, err := client.CoreV1().ServiceAccounts("old").Get(ctx, "default", metav1.GetOptions{}); err == nil {
		t.Error("account created in a terminating namespace")
	}
	sa, _ := client.CoreV1().ServiceAccounts("kube-system").Get(ctx, "default", metav1.GetOptions{})
	if sa.UID != "keep" {
		t.Error("existing account replaced")
	}

	// Syncing again on a stale cache is harmless (AlreadyExists).
	if err := c.Sync(ctx, "team"); err != nil {
		t.Fatal(err)
	}
}

func TestDeletedAccountQueuesNamespace(t *testing.T) {
	client := fake.NewClientset()
	c := newController(t, client, informers.NewSharedInformerFactory(client, 0))
	c.accountDeleted(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "team"}})
	if k, _ := c.queue.Get(); k != "team" {
		t.Fatalf("queued %q", k)
	}
}

func newController(t *testing.T, client kubernetes.Interface, factory informers.SharedInformerFactory) *Controller {
	t.Helper()
	c, err := New(deps.Deps{Client: client, Factory: factory}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
