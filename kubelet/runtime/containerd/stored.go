package containerd

import (
	"context"
	"fmt"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"

	"github.com/kinns/kinns/kubelet/runtime"
)

// pinnedLabel marks an image image GC must keep, as containerd's CRI does.
const pinnedLabel, pinnedValue = "io.cri-containerd.pinned", "pinned"

// StoredImages lists the images of the node's namespace.
func (c *Containerd) StoredImages(ctx context.Context) ([]runtime.StoredImage, error) {
	ctx = c.nsCtx(ctx)
	imgs, err := c.client.ImageService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]runtime.StoredImage, 0, len(imgs))
	for _, img := range imgs {
		size, err := img.Size(ctx, c.client.ContentStore(), platforms.Default())
		if err != nil {
			size = 0 // content missing for this platform: nothing to count
		}
		out = append(out, runtime.StoredImage{
			Name: img.Name, Digest: img.Target.Digest.String(), Size: size, Created: img.CreatedAt,
			Pinned: img.Labels[pinnedLabel] == pinnedValue,
		})
	}
	return out, nil
}

// ContainerImages returns the image name of every container of the node's
// namespace, running or not, the kubelet's or anyone's, and of every image
// volume mounted: images in use, which garbage collection keeps.
func (c *Containerd) ContainerImages(ctx context.Context) ([]string, error) {
	ctrs, err := c.client.ContainerService().List(c.nsCtx(ctx))
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]string, 0, len(ctrs))
	for _, ctr := range ctrs {
		out = append(out, ctr.Image)
	}
	views, err := c.viewLeases(ctx)
	if err != nil {
		return nil, err
	}
	for _, l := range views {
		out = append(out, l.Labels[labelImageVolumeImage])
	}
	return out, nil
}

// RemoveImage deletes an image from the node's namespace and waits for
// containerd's garbage collection, which frees the blobs and snapshots no
// namespace references any more. A missing image is success.
func (c *Containerd) RemoveImage(ctx context.Context, name string) error {
	err := c.client.ImageService().Delete(c.nsCtx(ctx), name, images.SynchronousDelete())
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove image %s: %w", name, err)
	}
	return nil
}
