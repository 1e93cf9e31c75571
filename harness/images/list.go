package images

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/platforms"

	"github.com/kinns/kinns/harness/containerd"
)

// PinnedLabel is the containerd image label, as containerd's CRI spells it,
// that keeps an image from the kubelet's image garbage collection.
const (
	PinnedLabel = "io.cri-containerd.pinned"
	PinnedValue = "pinned"
)

// Listed is an image of a containerd namespace and what uses it.
type Listed struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
	// Size is the image's content for this platform (compressed layers,
	// config, manifests), as `ctr images ls` shows it.
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
	Pinned  bool      `json:"pinned,omitempty"`
	// UsedBy are the containers made from it, running or not:
	// NAMESPACE/POD/CONTAINER for a pod's, else the container's ID.
	UsedBy []string `json:"usedBy,omitempty"`
}

// List lists the images of namespace in the containerd at address, with the
// containers that use them, by name.
func List(ctx context.Context, address, namespace string) ([]Listed, error) {
	c, err := containerd.Connect(address)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ctx = namespaces.WithNamespace(ctx, namespace)
	imgs, err := c.ImageService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list images of %s: %w", namespace, err)
	}
	ctrs, err := c.ContainerService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list containers of %s: %w", namespace, err)
	}
	out := make([]Listed, 0, len(imgs))
	for _, img := range imgs {
		out = append(out, describe(ctx, c, img))
	}
	return withUsers(out, ctrs), nil
}

func describe(ctx context.Context, c *ctrd.Client, img images.Image) Listed {
	size, _ := img.Size(ctx, c.ContentStore(), platforms.Default())
	return Listed{
		Name: img.Name, Digest: img.Target.Digest.String(), Size: size, Created: img.CreatedAt,
		Pinned: img.Labels[PinnedLabel] == PinnedValue,
	}
}

// Labels the kubelet puts on a pod's containers (kubelet/runtime).
const (
	labelPodNamespace  = "io.kubernetes.pod.namespace"
	labelPodName       = "io.kubernetes.pod.name"
	labelContainerName = "io.kubernetes.container.name"
)

// withUsers fills each image's UsedBy from the containers made from it, and
// sorts by name.
func withUsers(imgs []Listed, ctrs []containers.Container) []Listed {
	users := map[string][]string{}
	for _, c := range ctrs {
		if c.Image != "" {
			users[c.Image] = append(users[c.Image], containerName(c))
		}
	}
	for i := range imgs {
		u := users[imgs[i].Name]
		sort.Strings(u)
		imgs[i].UsedBy = u
	}
	sort.Slice(imgs, func(i, j int) bool { return imgs[i].Name < imgs[j].Name })
	return imgs
}

func containerName(c containers.Container) string {
	ns, pod, name := c.Labels[labelPodNamespace], c.Labels[labelPodName], c.Labels[labelContainerName]
	if ns == "" || pod == "" || name == "" {
		return c.ID
	}
	return strings.Join([]string{ns, pod, name}, "/")
}

// Pin labels an image so that image garbage collection leaves it.
func Pin(ctx context.Context, address, namespace, name string) error {
	c, err := containerd.Connect(address)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx = namespaces.WithNamespace(ctx, namespace)
	img, err := c.ImageService().Get(ctx, name)
	if err != nil {
		return fmt.Errorf("pin %s in %s: %w", name, namespace, err)
	}
	if img.Labels == nil {
		img.Labels = map[string]string{}
	}
	img.Labels[PinnedLabel] = PinnedValue
	if _, err := c.ImageService().Update(ctx, img, "labels."+PinnedLabel); err != nil {
		return fmt.Errorf("pin %s in %s: %w", name, namespace, err)
	}
	return nil
}
