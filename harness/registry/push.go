package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Pushed is one image Push wrote: where, and its manifest's digest.
type Pushed struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
}

// Push pushes the images of an archive (see OpenArchive) to the registry
// with go-containerregistry's remote.Write (remote.WriteIndex for an
// index). With target "", each image keeps its own name with the registry's
// host in place of its own (kinns.local/testapp:latest becomes
// localhost:PORT/testapp:latest, docker.io/library/nginx:1 localhost:PORT/nginx:1);
// with a target (NAME:TAG, or localhost:PORT/NAME:TAG) the archive must hold
// one image. The registry's own credentials are used if it has a user.
func (r Registry) Push(ctx context.Context, archive, target string) ([]Pushed, error) {
	info, err := r.Status()
	if err == nil && !info.Running {
		err = fmt.Errorf("%w on %s (its process %d is gone): start it again with `lab registry up --port %d`", ErrNotRunning, r.Address(), info.Process.PID, r.Port)
	}
	if err != nil {
		return nil, err
	}
	cfg, err := r.ServerConfig()
	if err != nil {
		return nil, err
	}
	auth := authn.Anonymous
	if cfg.User != "" {
		auth = &authn.Basic{Username: cfg.User, Password: cfg.Password}
	}
	return PushTo(ctx, r.Host(), auth, archive, target)
}

// PushTo is Push to any registry host that speaks plain HTTP on loopback.
func PushTo(ctx context.Context, host string, auth authn.Authenticator, archive, target string) ([]Pushed, error) {
	a, err := OpenArchive(archive, "")
	if err != nil {
		return nil, err
	}
	defer a.Close()
	refs, err := Targets(host, a.Images, target)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", archive, err)
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(auth)}
	var out []Pushed
	for i, img := range a.Images {
		p, err := pushOne(refs[i], img, opts)
		if err != nil {
			return out, fmt.Errorf("push %s: %w", refs[i], err)
		}
		out = append(out, p)
	}
	return out, nil
}

func pushOne(ref name.Reference, img ArchiveImage, opts []remote.Option) (Pushed, error) {
	if img.Index != nil {
		d, err := img.Index.Digest()
		if err != nil {
			return Pushed{}, err
		}
		return Pushed{Ref: ref.String(), Digest: d.String()}, remote.WriteIndex(ref, img.Index, opts...)
	}
	d, err := img.Image.Digest()
	if err != nil {
		return Pushed{}, err
	}
	return Pushed{Ref: ref.String(), Digest: d.String()}, remote.Write(ref, img.Image, opts...)
}

// Targets says where each image goes on the registry at host: target for
// the one image of the archive, or else each image's own name re-homed
// (see Rehome).
func Targets(host string, imgs []ArchiveImage, target string) ([]name.Reference, error) {
	if len(imgs) == 0 {
		return nil, errors.New("the archive holds no image")
	}
	if target != "" {
		if len(imgs) > 1 {
			return nil, fmt.Errorf("it holds %d images; give no NAME:TAG to push each under its own name", len(imgs))
		}
		ref, err := explicitTarget(host, target)
		return []name.Reference{ref}, err
	}
	refs := make([]name.Reference, len(imgs))
	for i, img := range imgs {
		if img.Name == "" {
			return nil, errors.New("an image in it has no name: give one, as `lab registry push ARCHIVE NAME:TAG`")
		}
		ref, err := Rehome(host, img.Name)
		if err != nil {
			return nil, err
		}
		refs[i] = ref
	}
	return refs, nil
}

// Rehome names ref on the registry at host: its path without its own
// registry host (and without docker.io's "library/"), its tag or digest
// kept; no tag is "latest".
func Rehome(host, ref string) (name.Reference, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return nil, fmt.Errorf("image name %q: %w", ref, err)
	}
	p := reference.Path(named)
	if reference.Domain(named) == "docker.io" {
		p = strings.TrimPrefix(p, "library/")
	}
	s := host + "/" + p
	if t, ok := named.(reference.Tagged); ok {
		s += ":" + t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		s += "@" + d.Digest().String()
	}
	return name.ParseReference(s, name.StrictValidation)
}

// explicitTarget parses the NAME:TAG a user gave: on host unless it names
// host itself (or 127.0.0.1 with host's port).
func explicitTarget(host, target string) (name.Reference, error) {
	ref, err := name.ParseReference(target, name.WithDefaultRegistry(host))
	if err != nil {
		return nil, fmt.Errorf("NAME:TAG %q: %w", target, err)
	}
	got := ref.Context().RegistryStr()
	_, port, _ := strings.Cut(host, ":")
	if got != host && got != "127.0.0.1:"+port {
		return nil, fmt.Errorf("NAME:TAG %q names the registry %s; this pushes to %s only: give NAME:TAG or %s/NAME:TAG", target, got, host, host)
	}
	sep := ":"
	if _, ok := ref.(name.Digest); ok {
		sep = "@"
	}
	return name.ParseReference(host + "/" + ref.Context().RepositoryStr() + sep + ref.Identifier())
}
