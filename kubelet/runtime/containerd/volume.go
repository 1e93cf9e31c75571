package containerd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/errdefs"
	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/image-spec/identity"
	"golang.org/x/sys/unix"

	"github.com/kinns/kinns/kubelet/runtime"
)

var _ runtime.ImageMounter = (*Containerd)(nil)

// LabelImageVolume marks the lease (and the snapshot) of an image volume's
// view with the folder it is mounted on.
const LabelImageVolume = "kinns.io/image-volume"

// labelImageVolumeImage is the image a view is made from, which image
// garbage collection counts as in use while the view exists.
const labelImageVolumeImage = "kinns.io/image-volume-image"

// MountImage mounts a snapshot View of ref's unpacked layers on target, as
// containerd's CRI plugin mounts an image volume (a Prepare there; a View
// here, since the volume is read-only anyway). The view is held by a lease
// of its own, so containerd's garbage collector keeps it, and a lab's
// teardown, which deletes every lease of the node's namespace, frees it.
func (c *Containerd) MountImage(ctx context.Context, ref, target string) error {
	ctx = c.nsCtx(ctx)
	if mounted, err := isMountPoint(target); err != nil || mounted {
		return err
	}
	parent, err := c.rootChain(ctx, ref)
	if err != nil {
		return err
	}
	ctx, err = c.viewLease(ctx, target, ref)
	if err != nil {
		return err
	}
	sn := c.client.SnapshotService(c.cfg.Snapshotter)
	mounts, err := sn.View(ctx, target, parent, snapshots.WithLabels(map[string]string{LabelImageVolume: target}))
	if errdefs.IsAlreadyExists(err) {
		mounts, err = sn.Mounts(ctx, target)
	}
	if err != nil {
		return fmt.Errorf("view of image %s: %w", ref, err)
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("image volume folder: %w", err)
	}
	if err := mount.All(mounts, target); err != nil {
		return errors.Join(fmt.Errorf("mount image %s on %s: %w", ref, target, err), mount.UnmountAll(target, unix.MNT_DETACH))
	}
	return nil
}

// rootChain is the chain ID of ref's unpacked layers: the parent snapshot
// of its views.
func (c *Containerd) rootChain(ctx context.Context, ref string) (string, error) {
	img, err := c.client.GetImage(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", ref, err)
	}
	if err := c.unpack(ctx, img); err != nil {
		return "", fmt.Errorf("unpack image %s: %w", ref, err)
	}
	diffIDs, err := img.RootFS(ctx)
	if err != nil {
		return "", fmt.Errorf("layers of image %s: %w", ref, err)
	}
	return identity.ChainID(diffIDs).String(), nil
}

// viewLease makes (once) the lease of target's view of image ref and
// returns ctx with it.
func (c *Containerd) viewLease(ctx context.Context, target, ref string) (context.Context, error) {
	id := viewLeaseID(target)
	_, err := c.client.LeasesService().Create(ctx, leases.WithID(id),
		leases.WithLabels(map[string]string{LabelImageVolume: target, labelImageVolumeImage: ref}))
	if err != nil && !errdefs.IsAlreadyExists(err) {
		return nil, fmt.Errorf("lease for image volume %s: %w", target, err)
	}
	return leases.WithLease(ctx, id), nil
}

// UnmountImage unmounts target, removes its view and lease, then the folder.
func (c *Containerd) UnmountImage(ctx context.Context, target string) error {
	ctx = c.nsCtx(ctx)
	if err := mount.UnmountAll(target, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount image volume %s: %w", target, err)
	}
	err := c.client.SnapshotService(c.cfg.Snapshotter).Remove(ctx, target)
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove view %s: %w", target, err)
	}
	err = c.client.LeasesService().Delete(ctx, leases.Lease{ID: viewLeaseID(target)})
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove lease of view %s: %w", target, err)
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove image volume folder: %w", err)
	}
	return nil
}

// ImageViews lists the folders of the image volumes whose views this
// node's namespace holds: what a restarted kubelet checks for orphans.
func (c *Containerd) ImageViews(ctx context.Context) ([]string, error) {
	ls, err := c.viewLeases(ctx)
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.Labels[LabelImageVolume])
	}
	return out, err
}

// viewLeases are the leases of image volumes' views.
func (c *Containerd) viewLeases(ctx context.Context) ([]leases.Lease, error) {
	ls, err := c.client.LeasesService().List(c.nsCtx(ctx))
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	var out []leases.Lease
	for _, l := range ls {
		if t, ok := l.Labels[LabelImageVolume]; ok && l.ID == viewLeaseID(t) {
			out = append(out, l)
		}
	}
	return out, nil
}

// viewLeaseID is a lease ID within containerd's identifier rules.
func viewLeaseID(target string) string {
	h := sha256.Sum256([]byte(target))
	return "kinns-image-volume-" + hex.EncodeToString(h[:12])
}

// isMountPoint: target is a folder with a mount on it (missing: false).
func isMountPoint(target string) (bool, error) {
	if _, err := os.Stat(target); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	ok, err := mountinfo.Mounted(target)
	if err != nil {
		return false, fmt.Errorf("is %s mounted: %w", target, err)
	}
	return ok, nil
}
