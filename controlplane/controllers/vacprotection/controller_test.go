package vacprotection

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/utils/ptr"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/internal/fakeapi"
)

const finalizer = "kubernetes.io/vac-protection"

// deleted is a class being deleted, held back by the finalizer.
func deleted(name string) *storagev1.VolumeAttributesClass {
	now := metav1.Now()
	return &storagev1.VolumeAttributesClass{
		ObjectMeta: metav1.ObjectMeta{Name: name, Finalizers: []string{finalizer}, DeletionTimestamp: &now},
		DriverName: "example.com/csi",
	}
}

// TestFinalizerStaysWhileAClaimUsesTheClass: a deleted class a claim names
// keeps its finalizer; an unused one loses it, so its deletion completes;
// a class without the finalizer gets it.
func TestFinalizerStaysWhileAClaimUsesTheClass(t *testing.T) {
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default"},
		Spec:       corev1.PersistentVolumeClaimSpec{VolumeAttributesClassName: ptr.To("used")},
	}
	fresh := &storagev1.VolumeAttributesClass{ObjectMeta: metav1.ObjectMeta{Name: "fresh"}, DriverName: "example.com/csi"}
	client := fakeapi.Client(deleted("used"), deleted("unused"), fresh, claim)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(deps.Deps{Client: client, Factory: factory}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fakeapi.Run(t, factory, c, Workers)
	has := func(ctx context.Context, name string) bool {
		v, err := client.StorageV1().VolumeAttributesClasses().Get(ctx, name, metav1.GetOptions{})
		return err == nil && slices.Contains(v.Finalizers, finalizer)
	}
	fakeapi.Eventually(t, "the unused class's finalizer removed", func(ctx context.Context) bool { return !has(ctx, "unused") })
	fakeapi.Eventually(t, "the new class given the finalizer", func(ctx context.Context) bool { return has(ctx, "fresh") })
	if !has(t.Context(), "used") {
		t.Error("the class a claim uses lost its finalizer")
	}
}
