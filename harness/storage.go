package harness

import (
	"context"
	"fmt"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The lab's default StorageClass and the provisioner it names (the
// controller manager's local-path provisioner, controllers/localpath).
const (
	StorageClassName = "standard"
	LocalPathName    = "kinns.io/local-path"
)

// ensureStorageAddon creates the default StorageClass, as kind does at
// bring-up: the API server's DefaultStorageClass admission then gives it to
// every claim that names no class.
func (l *Lab) ensureStorageAddon(ctx context.Context) error {
	cs, err := l.adminClient(0)
	if err != nil {
		return err
	}
	return ensureStorageClass(ctx, cs)
}

// ensureStorageClass creates the StorageClass standard, leaving alone one
// that exists (a user may have changed it).
func ensureStorageClass(ctx context.Context, cs kubernetes.Interface) error {
	del := corev1.PersistentVolumeReclaimDelete
	wait := storagev1.VolumeBindingWaitForFirstConsumer
	sc := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: StorageClassName, Annotations: map[string]string{
			"storageclass.kubernetes.io/is-default-class": "true",
		}},
		Provisioner:       LocalPathName,
		ReclaimPolicy:     &del,
		VolumeBindingMode: &wait,
	}
	_, err := cs.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{})
	if err = ignoreExists(err); err != nil {
		return fmt.Errorf("default storage class: %w", err)
	}
	return nil
}

// localPathRoot holds a folder per node (nodeDir), in which the
// provisioner makes the node's volumes.
func (l *Lab) localPathRoot() string { return filepath.Dir(l.nodeDir("x")) }
