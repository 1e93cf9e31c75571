package containerd

import (
	"context"
	"errors"
	"fmt"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"

	"github.com/kinns/kinns/kubelet/runtime"
)

// EnsureImage returns the image, pulling it if it is missing and the policy
// allows. An image already present is used under every policy, Always
// included: a lab has no registry to refresh it from (DESIGN §1.6). Errors
// are *ImageError.
func (c *Containerd) EnsureImage(ctx context.Context, ref, policy string) (runtime.Image, error) {
	ctx = c.nsCtx(ctx)
	name, err := runtime.NormalizeImage(ref)
	if err != nil {
		return runtime.Image{}, &runtime.ImageError{Reason: "InvalidImageName", Image: ref, Err: err}
	}
	img, err := c.client.GetImage(ctx, name)
	switch {
	case err == nil:
		if err := c.unpack(ctx, img); err != nil {
			return runtime.Image{}, &runtime.ImageError{Reason: "ErrImagePull", Image: ref, Err: err}
		}
		return imageOf(ctx, img)
	case !errdefs.IsNotFound(err):
		return runtime.Image{}, &runtime.ImageError{Reason: "ErrImagePull", Image: ref, Err: err}
	case policy == runtime.PullNever:
		return runtime.Image{}, &runtime.ImageError{Reason: "ErrImageNeverPull", Image: ref,
			Err: errors.New("the image is not present and the pull policy is Never")}
	}
	return c.pull(ctx, ref, name)
}

func (c *Containerd) pull(ctx context.Context, ref, name string) (runtime.Image, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.PullTimeout)
	defer cancel()
	c.cfg.Log.Info("pulling image", "image", name)
	img, err := c.client.Pull(ctx, name, ctrd.WithPullUnpack, ctrd.WithPullSnapshotter(c.cfg.Snapshotter))
	if err != nil {
		return runtime.Image{}, &runtime.ImageError{Reason: "ErrImagePull", Image: ref, Err: fmt.Errorf("pull: %w", err)}
	}
	return imageOf(ctx, img)
}

func (c *Containerd) unpack(ctx context.Context, img ctrd.Image) error {
	ok, err := img.IsUnpacked(ctx, c.cfg.Snapshotter)
	if err != nil || ok {
		return err
	}
	return img.Unpack(ctx, c.cfg.Snapshotter)
}

// imageOf describes img; reading its config (for its user) can fail as a
// pull does.
func imageOf(ctx context.Context, img ctrd.Image) (runtime.Image, error) {
	spec, err := img.Spec(ctx)
	if err != nil {
		return runtime.Image{}, &runtime.ImageError{Reason: "ErrImagePull", Image: img.Name(), Err: fmt.Errorf("read image config: %w", err)}
	}
	return runtime.Image{Ref: img.Name(), ID: imageID(img.Name(), img.Target().Digest.String()), User: spec.Config.User}, nil
}

// imageID is "<repository>@<digest>", as kubectl shows a container's imageID.
func imageID(name, digest string) string {
	if named, err := reference.ParseNormalizedNamed(name); err == nil {
		return named.Name() + "@" + digest
	}
	return digest
}
