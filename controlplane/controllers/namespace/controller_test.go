package namespace

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
)

// fakeDisc answers the preferred-resources questions the fake leaves empty.
type fakeDisc struct {
	*fakediscovery.FakeDiscovery
}

func (d fakeDisc) ServerPreferredNamespacedResources() ([]*metav1.APIResourceList, error) {
	return d.Resources, nil
}

func (d fakeDisc) ServerPreferredResources() ([]*metav1.APIResourceList, error) {
	return d.Resources, nil
}

func TestTerminatingNamespaceIsEmptiedAndFinalized(t *testing.T) {
	// Upstream waits 5 s after a namespace event before its first attempt.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := metav1.Now()
	ns := &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "team", DeletionTimestamp: &now},
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
	}
	client := fake.NewClientset(ns)
	disc := fakeDisc{client.Discovery().(*fakediscovery.FakeDiscovery)}
	// No deletecollection: the fake metadata client ignores it; upstream then
	// lists and deletes one by one.
	disc.Resources = []*metav1.APIResourceList{{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "configmaps", Namespaced: true, Kind: "ConfigMap", Verbs: []string{"list", "delete", "get"}},
	}}}
	scheme := runtime.NewScheme()
	metav1.AddMetaToScheme(scheme)
	cm := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "team"}}
	meta := metadatafake.NewSimpleMetadataClient(scheme, cm)

	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(deps.Deps{Client: client, Factory: factory}, Options{Metadata: meta, Discovery: disc})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	go c.Run(ctx, 1)

	cms := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	err = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if _, err := meta.Resource(cms).Namespace("team").Get(ctx, "settings", metav1.GetOptions{}); err == nil {
			return false, nil
		}
		got, err := client.CoreV1().Namespaces().Get(ctx, "team", metav1.GetOptions{})
		return err != nil || len(got.Spec.Finalizers) == 0, nil
	})
	if err != nil {
		t.Fatalf("namespace not emptied and finalized: %v", err)
	}
}
