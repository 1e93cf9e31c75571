package podinputs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/kubernetes/pkg/volume/util/hostutil"
)

// MountError is a volume that cannot be set up yet: the container waits in
// ContainerCreating and the pod gets a FailedMount event with Error(), the
// upstream kubelet's words, and the start is retried soon (a claim about
// to be bound, a hostPath about to appear).
type MountError struct {
	// Volume is the pod's volume name.
	Volume string
	// Msg is the event's message.
	Msg string
}

func (e *MountError) Error() string { return e.Msg }

// setUpFailed is the error of a volume whose set-up failed, as upstream's
// operation executor words it.
func setUpFailed(volume string, err error) *MountError {
	return &MountError{Volume: volume, Msg: fmt.Sprintf("MountVolume.SetUp failed for volume %q : %v", volume, err)}
}

// claimVolume returns the host folder of the PersistentVolume bound to a
// pod's claim; a claim not bound yet is a MountError, as the kubelet's
// volume manager waits for it.
func (in *Inputs) claimVolume(ctx context.Context, pod *v1.Pod, vol *v1.Volume, claimName string) (string, error) {
	notReady := func(why string) error {
		return &MountError{Volume: vol.Name, Msg: fmt.Sprintf(
			"Unable to attach or mount volumes: unmounted volumes=[%s], unattached volumes=[], failed to process volumes=[%s]: error processing PVC %s/%s: %s",
			vol.Name, vol.Name, pod.Namespace, claimName, why)}
	}
	claim, err := in.client.CoreV1().PersistentVolumeClaims(pod.Namespace).Get(ctx, claimName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", notReady(fmt.Sprintf("persistentvolumeclaim %q not found", claimName))
	}
	if err != nil {
		return "", fmt.Errorf("read claim %s/%s: %w", pod.Namespace, claimName, err)
	}
	if claim.Status.Phase != v1.ClaimBound || claim.Spec.VolumeName == "" {
		return "", notReady("PVC is not bound")
	}
	pv, err := in.client.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("read volume %s of claim %s/%s: %w", claim.Spec.VolumeName, pod.Namespace, claimName, err)
	}
	switch src := pv.Spec.PersistentVolumeSource; {
	case src.HostPath != nil:
		return src.HostPath.Path, checkHostPath(vol.Name, src.HostPath)
	case src.Local != nil:
		if _, err := os.Stat(src.Local.Path); err != nil {
			return "", setUpFailed(vol.Name, err)
		}
		return src.Local.Path, nil
	}
	return "", setUpFailed(vol.Name, fmt.Errorf("persistent volume %s: only hostPath and local volumes can be mounted on this node", pv.Name))
}

// checkHostPath checks (or makes) a hostPath as its type says, with the
// upstream hostPath plugin's messages.
func checkHostPath(volume string, hp *v1.HostPathVolumeSource) error {
	if hp.Type == nil || *hp.Type == v1.HostPathUnset {
		return nil
	}
	if err := checkPathType(hp.Path, *hp.Type); err != nil {
		return setUpFailed(volume, err)
	}
	return nil
}

func checkPathType(path string, t v1.HostPathType) error {
	_, statErr := os.Stat(path)
	missing := errors.Is(statErr, os.ErrNotExist)
	switch t {
	case v1.HostPathDirectoryOrCreate:
		if missing {
			return os.MkdirAll(path, 0o755)
		}
		return wantType(path, hostutil.FileTypeDirectory, "directory")
	case v1.HostPathDirectory:
		return wantType(path, hostutil.FileTypeDirectory, "directory")
	case v1.HostPathFileOrCreate:
		if missing {
			f, err := os.OpenFile(path, os.O_CREATE, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
		return wantType(path, hostutil.FileTypeFile, "file")
	case v1.HostPathFile:
		return wantType(path, hostutil.FileTypeFile, "file")
	case v1.HostPathSocket:
		return wantType(path, hostutil.FileTypeSocket, "socket file")
	case v1.HostPathCharDev:
		return wantType(path, hostutil.FileTypeCharDev, "character device")
	case v1.HostPathBlockDev:
		return wantType(path, hostutil.FileTypeBlockDev, "block device")
	}
	return fmt.Errorf("%s is an invalid volume type", t)
}

// wantType says, as upstream does, what path is when it is not of type
// want.
func wantType(path string, want hostutil.FileType, name string) error {
	got, err := hostutil.NewHostUtil().GetFileType(path)
	if err != nil {
		return fmt.Errorf("hostPath type check failed, %s is not a %s, unable to determine its type: %w", path, name, err)
	}
	if got != want {
		return fmt.Errorf("hostPath type check failed: %s is not a %s, it's a %s", path, name, got)
	}
	return nil
}

// memoryDir mounts a tmpfs on dir (once) for an emptyDir of medium Memory,
// of sizeLimit bytes when it is set (else the kernel's default, half the
// host's memory), as the upstream kubelet does.
func memoryDir(pod *v1.Pod, dir string, sizeLimit int64) (string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	mounted, err := mountinfo.Mounted(dir)
	if err != nil {
		return "", fmt.Errorf("is %s mounted: %w", dir, err)
	}
	if mounted {
		return dir, nil
	}
	opts := ""
	if sizeLimit > 0 {
		opts = fmt.Sprintf("size=%d", sizeLimit)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return "", fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		return "", err
	}
	return dir, setVolumeOwnership(pod, dir, false)
}

// UnmountPodVolumes unmounts what the pod's volumes mounted on the host
// (the tmpfs of its memory emptyDirs, its image volumes, whose views are
// removed), so that its folder can be removed. A folder that is not mounted
// is left as it is.
func (in *Inputs) UnmountPodVolumes(ctx context.Context, uid types.UID) error {
	if err := in.unmountImageVolumes(ctx, uid); err != nil {
		return err
	}
	base := filepath.Join(in.PodDir(uid), "volumes", "empty-dir")
	entries, err := os.ReadDir(base)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		dir := filepath.Join(base, e.Name())
		if mounted, err := mountinfo.Mounted(dir); err != nil || !mounted {
			continue
		}
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}
