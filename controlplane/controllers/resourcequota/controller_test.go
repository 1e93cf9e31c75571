package resourcequota

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/informers"
	metadatafake "k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/metadata/metadatainformer"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/internal/fakeapi"
)

// fakeDisc answers the preferred-resources question the fake leaves empty.
type fakeDisc struct{ *fakediscovery.FakeDiscovery }

func (d fakeDisc) ServerPreferredNamespacedResources() ([]*metav1.APIResourceList, error) {
	return d.Resources, nil
}

// TestQuotaStatusCountsPods: a quota of 2 pods in a namespace with one pod
// gets status hard pods 2, used pods 1, which the API server's admission
// checks against.
func TestQuotaStatusCountsPods(t *testing.T) {
	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "pods", Namespace: "team"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("2")}}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: "team"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	client := fakeapi.Client(quota, pod)
	disc := fakeDisc{client.Discovery().(*fakediscovery.FakeDiscovery)}
	disc.Resources = []*metav1.APIResourceList{{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: []string{"create", "list", "watch", "delete"}},
		{Name: "resourcequotas", Namespaced: true, Kind: "ResourceQuota", Verbs: []string{"create", "list", "watch", "delete"}},
	}}}
	factory := informers.NewSharedInformerFactory(client, 0)
	meta := metadatainformer.NewSharedInformerFactory(metadatafake.NewSimpleMetadataClient(runtime.NewScheme()), 0)
	started := make(chan struct{})
	c, err := New(deps.Deps{Client: client, Factory: factory},
		Options{MetadataInformers: meta, InformersStarted: started, Discovery: disc})
	if err != nil {
		t.Fatal(err)
	}
	fakeapi.Run(t, factory, c, 1)
	close(started)
	fakeapi.Eventually(t, "the quota's status", func(ctx context.Context) bool {
		got, _ := client.CoreV1().ResourceQuotas("team").Get(ctx, "pods", metav1.GetOptions{})
		hard, used := got.Status.Hard[corev1.ResourcePods], got.Status.Used[corev1.ResourcePods]
		return hard.Value() == 2 && used.Value() == 1
	})
}

func TestNewWantsTheMetadataInformers(t *testing.T) {
	client := fakeapi.Client()
	if _, err := New(deps.Deps{Client: client, Factory: informers.NewSharedInformerFactory(client, 0)}, Options{}); err == nil {
		t.Error("New without metadata informers: no error")
	}
}
