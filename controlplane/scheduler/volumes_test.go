package scheduler

import (
	"context"
	"errors"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
)

func withClaim(name string) podOpt {
	return func(p *v1.Pod) {
		p.Spec.Volumes = append(p.Spec.Volumes, v1.Volume{Name: "data", VolumeSource: v1.VolumeSource{
			PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: name}}})
	}
}

func class(name string, mode storagev1.VolumeBindingMode) *storagev1.StorageClass {
	return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, VolumeBindingMode: &mode}
}

func pvc(name, className, volume string) *v1.PersistentVolumeClaim {
	return &v1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: v1.PersistentVolumeClaimSpec{StorageClassName: &className, VolumeName: volume}}
}

func pvOn(name, node string) *v1.PersistentVolume {
	return &v1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.PersistentVolumeSpec{
		NodeAffinity: &v1.VolumeNodeAffinity{Required: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{
			labelTerm(v1.LabelHostname, v1.NodeSelectorOpIn, node)}}}}}
}

// listers holds objs in indexers, as informers would.
func listers(t *testing.T, objs ...any) Listers {
	t.Helper()
	claims := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	vols := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	classes := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, o := range objs {
		var err error
		switch o.(type) {
		case *v1.PersistentVolumeClaim:
			err = claims.Add(o)
		case *v1.PersistentVolume:
			err = vols.Add(o)
		case *storagev1.StorageClass:
			err = classes.Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return Listers{Claims: corelisters.NewPersistentVolumeClaimLister(claims),
		Volumes: corelisters.NewPersistentVolumeLister(vols), Classes: storagelisters.NewStorageClassLister(classes)}
}

func hostNodes() []*v1.Node {
	var out []*v1.Node
	for _, n := range []string{"node-1", "node-2", "node-3"} {
		out = append(out, node(n, "4", "8Gi", 110, withLabel(v1.LabelHostname, n)))
	}
	return out
}

func TestMissingClaimIsUnschedulableWithUpstreamMessage(t *testing.T) {
	p := pod("web", "100m", "64Mi", withClaim("data"))
	vols := ReadPodVolumes(p, listers(t))
	_, err := ScheduleWithVolumes(p, NewSnapshot(hostNodes(), nil), vols)
	var fit *FitError
	if !errors.As(err, &fit) {
		t.Fatalf("err = %v, want a FitError", err)
	}
	if want := `0/3 nodes are available: persistentvolumeclaim "data" not found.`; err.Error() != want {
		t.Errorf("message %q, want %q", err.Error(), want)
	}
	if wakeOn(fit)&eventVolume == 0 {
		t.Error("a claim event does not retry the pod")
	}
}

func TestBoundClaimPinsPodToVolumeNode(t *testing.T) {
	p := pod("web", "100m", "64Mi", withClaim("data"))
	vols := ReadPodVolumes(p, listers(t, pvc("data", "standard", "pv-1"), pvOn("pv-1", "node-3")))
	d, err := ScheduleWithVolumes(p, NewSnapshot(hostNodes(), nil), vols)
	if err != nil {
		t.Fatal(err)
	}
	if d.Node != "node-3" {
		t.Errorf("node %s, want node-3 (the volume's)", d.Node)
	}
	if got := d.Rejected["node-1"]; len(got) != 1 || got[0].Message != MsgVolumeNodeConflict {
		t.Errorf("node-1 rejected for %v", got)
	}
}

func TestDelayedClaimIsToldItsNode(t *testing.T) {
	l := listers(t, pvc("data", "standard", ""), class("standard", storagev1.VolumeBindingWaitForFirstConsumer))
	p := pod("web", "100m", "64Mi", withClaim("data"))
	vols := ReadPodVolumes(p, l)
	if vols.Unresolvable != "" || len(vols.Delayed) != 1 || vols.Delayed[0] != "data" {
		t.Fatalf("volumes %+v, want data delayed", vols)
	}
	if _, err := ScheduleWithVolumes(p, NewSnapshot(hostNodes(), nil), vols); err != nil {
		t.Fatal(err)
	}
	// Once a node is selected, a second pod of the claim goes there too.
	selected := pvc("data", "standard", "")
	selected.Annotations = map[string]string{AnnSelectedNode: "node-2"}
	vols = ReadPodVolumes(p, listers(t, selected, class("standard", storagev1.VolumeBindingWaitForFirstConsumer)))
	d, err := ScheduleWithVolumes(p, NewSnapshot(hostNodes(), nil), vols)
	if err != nil || d.Node != "node-2" {
		t.Errorf("node %q (%v), want node-2, the claim's selected node", d.Node, err)
	}
}

func TestImmediateUnboundClaimWaits(t *testing.T) {
	p := pod("web", "100m", "64Mi", withClaim("data"))
	vols := ReadPodVolumes(p, listers(t, pvc("data", "fast", ""), class("fast", storagev1.VolumeBindingImmediate)))
	_, err := ScheduleWithVolumes(p, NewSnapshot(hostNodes(), nil), vols)
	if err == nil || err.Error() != "0/3 nodes are available: "+MsgUnboundImmediatePVCs+"." {
		t.Errorf("err = %v", err)
	}
}

// The running scheduler writes the chosen node on the delayed claim before
// it binds the pod, and a pod whose claim is missing is bound once the
// claim comes.
func TestSchedulerSelectsNodeOfDelayedClaim(t *testing.T) {
	tc := startTestCluster(t, fastConfig(), node("node-1", "4", "8Gi", 110), class("standard", storagev1.VolumeBindingWaitForFirstConsumer))
	tc.create(pod("web", "100m", "64Mi", withClaim("data")))
	eventually(t, 5*time.Second, "FailedScheduling for the missing claim", func() bool {
		return tc.hasEvent("web", v1.EventTypeWarning, "FailedScheduling", `0/1 nodes are available: persistentvolumeclaim "data" not found. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.`)
	})
	ctx := context.Background()
	if _, err := tc.client.CoreV1().PersistentVolumeClaims("default").Create(ctx, pvc("data", "standard", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "web is bound", func() bool { return tc.getPod("web").Spec.NodeName == "node-1" })
	c, err := tc.client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data", metav1.GetOptions{})
	if err != nil || c.Annotations[AnnSelectedNode] != "node-1" {
		t.Errorf("claim annotations %v (%v), want the selected node", c.Annotations, err)
	}
}
