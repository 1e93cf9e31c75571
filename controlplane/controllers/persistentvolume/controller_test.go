package persistentvolume

import (
	"context"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
)

// TestClaimIsBoundToMatchingVolume: upstream's binder, with no volume
// plugin, binds a claim to an available PV that fits it.
func TestClaimIsBoundToMatchingVolume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gi := resource.MustParse("1Gi")
	// The binder parses resource versions, which the fake leaves empty.
	pv := &v1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-1", ResourceVersion: "1"}, Spec: v1.PersistentVolumeSpec{
		Capacity: v1.ResourceList{v1.ResourceStorage: gi}, AccessModes: []v1.PersistentVolumeAccessMode{v1.ReadWriteOnce},
		PersistentVolumeReclaimPolicy: v1.PersistentVolumeReclaimRetain,
		PersistentVolumeSource:        v1.PersistentVolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "/tmp/x"}},
	}, Status: v1.PersistentVolumeStatus{Phase: v1.VolumeAvailable}}
	empty := ""
	claim := &v1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default", UID: "u1", ResourceVersion: "1"},
		Spec: v1.PersistentVolumeClaimSpec{StorageClassName: &empty, AccessModes: []v1.PersistentVolumeAccessMode{v1.ReadWriteOnce},
			Resources: v1.VolumeResourceRequirements{Requests: v1.ResourceList{v1.ResourceStorage: gi}}},
		Status: v1.PersistentVolumeClaimStatus{Phase: v1.ClaimPending}}
	client := fake.NewClientset(pv, claim)
	factory := informers.NewSharedInformerFactory(client, 0)
	b, err := New(deps.Deps{Client: client, Factory: factory}, Options{SyncPeriod: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx, 1) }()
	err = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		c, err := client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data", metav1.GetOptions{})
		return err == nil && c.Spec.VolumeName == "pv-1" && c.Status.Phase == v1.ClaimBound, nil
	})
	if err != nil {
		c, _ := client.CoreV1().PersistentVolumeClaims("default").Get(context.Background(), "data", metav1.GetOptions{})
		p, _ := client.CoreV1().PersistentVolumes().Get(context.Background(), "pv-1", metav1.GetOptions{})
		t.Fatalf("claim not bound to pv-1: %v\n%+v\n%+v", err, c.Spec, p.Spec.ClaimRef)
	}
	cancel()
	<-done
}
