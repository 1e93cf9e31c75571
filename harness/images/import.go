package images

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"

	"github.com/kinns/kinns/harness/containerd"
)

// Snapshotter is the snapshotter the kubelets run containers with; images are
// unpacked for it on import, so that a pod's first start does not pay for it.
const Snapshotter = "overlayfs"

// Import imports an archive that holds one named image (BuildArchive's) into
// namespace of the containerd at address, unpacks it, and returns its name.
// Importing the same archive again is harmless.
func Import(ctx context.Context, address, namespace, archivePath string) (string, error) {
	names, err := ImportArchive(ctx, address, namespace, archivePath)
	if err != nil {
		return "", err
	}
	if len(names) != 1 {
		return "", fmt.Errorf("archive %s holds %d images (%s), want one", archivePath, len(names), strings.Join(names, ", "))
	}
	return names[0], nil
}

// ImportArchive imports every image of an OCI archive or a `docker save` archive
// for this host's platform into namespace, unpacks them, and returns their
// names. Docker names are normalized as the kubelet looks them up ("nginx" is
// docker.io/library/nginx:latest). An OCI image whose only name is a bare tag
// ("latest") cannot be told apart from others and is left out; an archive
// naming no image at all is an error.
func ImportArchive(ctx context.Context, address, namespace, archivePath string) ([]string, error) {
	f, err := os.Open(archivePath)
	if err != nil {
		return nil, fmt.Errorf("open image archive: %w", err)
	}
	defer f.Close()
	c, err := containerd.Connect(address)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ctx = namespaces.WithNamespace(ctx, namespace)
	imgs, err := c.Import(ctx, f, ctrd.WithImageRefTranslator(fullReference))
	if errors.Is(err, images.ErrEmptyWalk) {
		return nil, fmt.Errorf("import %s: it holds no image for %s; an image whose config names no os and architecture is left out too (set them when you build it)",
			archivePath, platforms.DefaultString())
	}
	if err != nil {
		return nil, fmt.Errorf("import %s into containerd namespace %s: %w", archivePath, namespace, err)
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("import %s: the archive names no image (an OCI archive needs the %s annotation or a full %s)", archivePath, annotationImageName, annotationRefName)
	}
	names := make([]string, 0, len(imgs))
	for _, img := range imgs {
		if err := unpack(ctx, ctrd.NewImage(c, img)); err != nil {
			return nil, fmt.Errorf("import %s into containerd namespace %s: %w", archivePath, namespace, err)
		}
		names = append(names, img.Name)
	}
	return names, nil
}

func unpack(ctx context.Context, img ctrd.Image) error {
	done, err := img.IsUnpacked(ctx, Snapshotter)
	if err != nil {
		return fmt.Errorf("check whether %s is unpacked: %w", img.Name(), err)
	}
	if done {
		return nil
	}
	if err := img.Unpack(ctx, Snapshotter); err != nil {
		return fmt.Errorf("unpack %s for %s: %w", img.Name(), Snapshotter, err)
	}
	return nil
}

// fullReference names an image from an OCI ref.name annotation: a full
// reference, normalized, or nothing for a bare tag.
func fullReference(ref string) string {
	if !strings.ContainsAny(ref, "/:@") {
		return ""
	}
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return ""
	}
	return named.String()
}
