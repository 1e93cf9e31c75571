package localpath

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
)

func standard(mode storagev1.VolumeBindingMode) *storagev1.StorageClass {
	del := v1.PersistentVolumeReclaimDelete
	return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "standard"}, Provisioner: Provisioner,
		ReclaimPolicy: &del, VolumeBindingMode: &mode}
}

func claim(node string, modes ...v1.PersistentVolumeAccessMode) *v1.PersistentVolumeClaim {
	class := "standard"
	ann := map[string]string{AnnStorageProvisioner: Provisioner}
	if node != "" {
		ann[AnnSelectedNode] = node
	}
	return &v1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default", UID: "u1", Annotations: ann},
		Spec: v1.PersistentVolumeClaimSpec{StorageClassName: &class, AccessModes: modes,
			Resources: v1.VolumeResourceRequirements{Requests: v1.ResourceList{v1.ResourceStorage: resource.MustParse("1Gi")}}},
		Status: v1.PersistentVolumeClaimStatus{Phase: v1.ClaimPending},
	}
}

// newTest builds a controller on a fake clientset whose informer stores
// hold objs.
func newTest(t *testing.T, objs ...runtime.Object) (*Controller, *fake.Clientset, informers.SharedInformerFactory) {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(deps.Deps{Client: client, Factory: factory}, Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *v1.PersistentVolumeClaim:
			err = factory.Core().V1().PersistentVolumeClaims().Informer().GetStore().Add(o)
		case *v1.PersistentVolume:
			err = factory.Core().V1().PersistentVolumes().Informer().GetStore().Add(o)
		case *storagev1.StorageClass:
			err = factory.Storage().V1().StorageClasses().Informer().GetStore().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return c, client, factory
}

func TestClaimOnNodeGetsHostPathVolumeWithAffinity(t *testing.T) {
	ctx := context.Background()
	c, client, _ := newTest(t, standard(storagev1.VolumeBindingWaitForFirstConsumer), claim("node-2", v1.ReadWriteOnce))
	if err := c.sync(ctx, "pvc/default/data"); err != nil {
		t.Fatal(err)
	}
	pv, err := client.CoreV1().PersistentVolumes().Get(ctx, "pvc-u1", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("no volume provisioned: %v", err)
	}
	want := filepath.Join(c.opts.Root, "node-2", "local-path", "pvc-u1")
	if pv.Spec.HostPath == nil || pv.Spec.HostPath.Path != want {
		t.Errorf("hostPath = %+v, want %s", pv.Spec.HostPath, want)
	}
	if fi, err := os.Stat(want); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o777 {
		t.Errorf("folder %s: %v %v", want, fi, err)
	}
	terms := pv.Spec.NodeAffinity.Required.NodeSelectorTerms
	if got := terms[0].MatchExpressions[0]; got.Key != v1.LabelHostname || got.Values[0] != "node-2" {
		t.Errorf("node affinity = %+v", got)
	}
	if pv.Spec.PersistentVolumeReclaimPolicy != v1.PersistentVolumeReclaimDelete || pv.Spec.StorageClassName != "standard" {
		t.Errorf("policy %s class %s", pv.Spec.PersistentVolumeReclaimPolicy, pv.Spec.StorageClassName)
	}
	if q := pv.Spec.Capacity[v1.ResourceStorage]; q.String() != "1Gi" {
		t.Errorf("capacity %s", q.String())
	}
	if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != "u1" || pv.Annotations[AnnProvisionedBy] != Provisioner {
		t.Errorf("claimRef %+v annotations %v", pv.Spec.ClaimRef, pv.Annotations)
	}
}

func TestClaimWithoutNodeOrUnsupportedWaits(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		class *storagev1.StorageClass
		claim *v1.PersistentVolumeClaim
	}{
		"no selected node": {standard(storagev1.VolumeBindingWaitForFirstConsumer), claim("", v1.ReadWriteOnce)},
		"ReadWriteMany":    {standard(storagev1.VolumeBindingWaitForFirstConsumer), claim("node-1", v1.ReadWriteMany)},
		"immediate class":  {standard(storagev1.VolumeBindingImmediate), claim("node-1", v1.ReadWriteOnce)},
	} {
		t.Run(name, func(t *testing.T) {
			c, client, _ := newTest(t, tc.class, tc.claim)
			if err := c.sync(ctx, "pvc/default/data"); err != nil {
				t.Fatal(err)
			}
			if pvs, _ := client.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{}); len(pvs.Items) != 0 {
				t.Errorf("provisioned %d volumes, want none", len(pvs.Items))
			}
		})
	}
}

func released(c *Controller, dir string) *v1.PersistentVolume {
	return &v1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pvc-u1", Annotations: map[string]string{AnnProvisionedBy: Provisioner}},
		Spec: v1.PersistentVolumeSpec{PersistentVolumeReclaimPolicy: v1.PersistentVolumeReclaimDelete,
			PersistentVolumeSource: v1.PersistentVolumeSource{HostPath: &v1.HostPathVolumeSource{Path: dir}}},
		Status: v1.PersistentVolumeStatus{Phase: v1.VolumeReleased},
	}
}

func TestReleasedVolumeAndFolderAreRemoved(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newTest(t)
	dir := c.Dir("node-1", "pvc-u1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	c, client, _ := newTestRoot(t, c.opts.Root, released(c, dir))
	if err := c.sync(ctx, "pv/pvc-u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("folder still there: %v", err)
	}
	if _, err := client.CoreV1().PersistentVolumes().Get(ctx, "pvc-u1", metav1.GetOptions{}); err == nil {
		t.Error("volume not deleted")
	}
}

func TestVolumeOutsideRootIsLeftAlone(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	c, client, _ := newTest(t)
	c, client, _ = newTestRoot(t, c.opts.Root, released(c, outside))
	if err := c.sync(ctx, "pv/pvc-u1"); err == nil {
		t.Error("want an error for a folder outside the root")
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("folder outside the root removed: %v", err)
	}
	if _, err := client.CoreV1().PersistentVolumes().Get(ctx, "pvc-u1", metav1.GetOptions{}); err != nil {
		t.Errorf("volume deleted: %v", err)
	}
}

// newTestRoot is newTest with a given root.
func newTestRoot(t *testing.T, root string, objs ...runtime.Object) (*Controller, *fake.Clientset, informers.SharedInformerFactory) {
	c, client, f := newTest(t, objs...)
	c.opts.Root = root
	return c, client, f
}
