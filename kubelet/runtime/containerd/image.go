package containerd

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	dockerconfig "github.com/containerd/containerd/v2/core/remotes/docker/config"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"

	"github.com/kinns/kinns/kubelet/runtime"
)

var _ runtime.ImageService = (*Containerd)(nil)

// EnsureImage returns the image, pulling it anonymously if it is missing and
// the policy allows. The kubelet's image manager (pull policies,
// credentials, events) uses LocalImage and PullImage instead. Errors are
// *ImageError.
func (c *Containerd) EnsureImage(ctx context.Context, ref, policy string) (runtime.Image, error) {
	name, err := runtime.NormalizeImage(ref)
	if err != nil {
		return runtime.Image{}, &runtime.ImageError{Reason: "InvalidImageName", Image: ref, Err: err}
	}
	img, ok, err := c.LocalImage(ctx, name)
	switch {
	case err != nil || ok:
		return img, err
	case policy == runtime.PullNever:
		return runtime.Image{}, &runtime.ImageError{Reason: "ErrImageNeverPull", Image: ref,
			Err: errors.New("the image is not present and the pull policy is Never")}
	}
	return c.PullImage(ctx, name, nil)
}

// LocalImage returns the image stored under name, unpacked.
func (c *Containerd) LocalImage(ctx context.Context, name string) (runtime.Image, bool, error) {
	ctx = c.nsCtx(ctx)
	img, err := c.client.GetImage(ctx, name)
	if errdefs.IsNotFound(err) {
		return runtime.Image{}, false, nil
	}
	if err == nil {
		err = c.unpack(ctx, img)
	}
	if err != nil {
		return runtime.Image{}, false, &runtime.ImageError{Reason: "ErrImagePull", Image: name, Err: err}
	}
	out, err := imageOf(ctx, img)
	return out, err == nil, err
}

// PullImage pulls name from its registry through the configured dialer
// and registry hosts, with auth (nil: anonymous) for every host it
// contacts.
func (c *Containerd) PullImage(ctx context.Context, name string, auth *runtime.Auth) (runtime.Image, error) {
	ctx, cancel := context.WithTimeout(c.nsCtx(ctx), c.cfg.PullTimeout)
	defer cancel()
	c.cfg.Log.Info("pulling image", "image", name, "auth", auth != nil)
	img, err := c.client.Pull(ctx, name, ctrd.WithPullUnpack, ctrd.WithPullSnapshotter(c.cfg.Snapshotter),
		ctrd.WithResolver(c.resolver(ctx, auth)))
	if err != nil {
		return runtime.Image{}, &runtime.ImageError{Reason: "ErrImagePull", Image: name, Err: fmt.Errorf("pull: %w", err)}
	}
	return imageOf(ctx, img)
}

// resolver is containerd's registry client, its connections opened by
// cfg.Dial, its proxies from the environment (HTTP_PROXY, HTTPS_PROXY,
// NO_PROXY), its hosts configured from RegistryConfigDir as containerd's
// CRI plugin reads config_path (localhost registries default to plain HTTP).
func (c *Containerd) resolver(ctx context.Context, auth *runtime.Auth) remotes.Resolver {
	opts := dockerconfig.HostOptions{UpdateClient: c.updateClient}
	if c.cfg.RegistryConfigDir != "" {
		opts.HostDir = dockerconfig.HostDirFromRoot(c.cfg.RegistryConfigDir)
	}
	if auth != nil {
		a := *auth
		opts.Credentials = func(string) (string, string, error) {
			if a.IdentityToken != "" {
				return "", a.IdentityToken, nil
			}
			return a.Username, a.Password, nil
		}
	}
	return docker.NewResolver(docker.ResolverOptions{Hosts: dockerconfig.ConfigureHosts(ctx, opts)})
}

// updateClient keeps each host's TLS settings and sets how it connects.
func (c *Containerd) updateClient(client *http.Client) error {
	t, ok := client.Transport.(*http.Transport)
	if !ok {
		return fmt.Errorf("registry client: unexpected transport %T", client.Transport)
	}
	t.Proxy = http.ProxyFromEnvironment
	if c.cfg.Dial != nil {
		t.DialContext = c.cfg.Dial
	}
	return nil
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
	size, err := img.Size(ctx)
	if err != nil {
		return runtime.Image{}, &runtime.ImageError{Reason: "ErrImagePull", Image: img.Name(), Err: fmt.Errorf("read image size: %w", err)}
	}
	return runtime.Image{Ref: img.Name(), ID: imageID(img.Name(), img.Target().Digest.String()), User: spec.Config.User, Size: size}, nil
}

// imageID is "<repository>@<digest>", as kubectl shows a container's imageID.
func imageID(name, digest string) string {
	if named, err := reference.ParseNormalizedNamed(name); err == nil {
		return named.Name() + "@" + digest
	}
	return digest
}
