package garbagecollector

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/metadata/metadatainformer"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
)

// fakeDisc answers the preferred-resources question the fake leaves empty.
type fakeDisc struct{ *fakediscovery.FakeDiscovery }

func (d fakeDisc) ServerPreferredResources() ([]*metav1.APIResourceList, error) {
	return d.Resources, nil
}

func (d fakeDisc) ServerPreferredResourcesWithContext(context.Context) ([]*metav1.APIResourceList, error) {
	return d.Resources, nil
}

var verbs = []string{"get", "list", "watch", "delete", "patch", "update"}

// TestDependentOfDeletedOwnerIsCollected: a pod owned by a ReplicaSet goes
// when the ReplicaSet is gone (background deletion); a pod owned by a
// ReplicaSet that still exists stays.
func TestDependentOfDeletedOwnerIsCollected(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rs := func(name string) *appsv1.ReplicaSet {
		return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: k8stypes.UID("uid-rs-" + name)}}
	}
	owned := func(name string, owner *appsv1.ReplicaSet) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: k8stypes.UID("uid-pod-" + name),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(owner, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))}}}
	}
	gone, kept := rs("gone"), rs("kept")
	orphan, child := owned("orphan", gone), owned("child", kept)

	client := fake.NewClientset(kept, orphan, child)
	disc := fakeDisc{client.Discovery().(*fakediscovery.FakeDiscovery)}
	disc.Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: verbs}}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{{Name: "replicasets", Namespaced: true, Kind: "ReplicaSet", Verbs: verbs}}},
	}
	scheme := runtime.NewScheme()
	metav1.AddMetaToScheme(scheme)
	meta := metadatafake.NewSimpleMetadataClient(scheme, partial("apps/v1", "ReplicaSet", kept.ObjectMeta),
		partial("v1", "Pod", orphan.ObjectMeta), partial("v1", "Pod", child.ObjectMeta))

	factory := informers.NewSharedInformerFactory(client, 0)
	metaFactory := metadatainformer.NewSharedInformerFactory(meta, 0)
	started := make(chan struct{})
	c, err := New(deps.Deps{Client: client, Factory: factory}, Options{Metadata: meta, MetadataInformers: metaFactory,
		InformersStarted: started, Discovery: disc, SyncPeriod: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	metaFactory.Start(ctx.Done())
	close(started)
	done := make(chan struct{})
	go func() { c.Run(ctx, 2); close(done) }()

	pods := meta.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace("default")
	err = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, err := pods.Get(ctx, "orphan", metav1.GetOptions{})
		return err != nil, nil
	})
	if err != nil {
		t.Fatal("pod of a deleted ReplicaSet was not collected")
	}
	if _, err := pods.Get(ctx, "child", metav1.GetOptions{}); err != nil {
		t.Fatalf("pod of a live ReplicaSet collected: %v", err)
	}
	cancel()
	<-done
}

func partial(apiVersion, kind string, m metav1.ObjectMeta) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}, ObjectMeta: m}
}
