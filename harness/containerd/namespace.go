package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/containerd/containerd/api/services/tasks/v1"
	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"

	kubectrd "github.com/kinns/kinns/kubelet/runtime/containerd"
)

// Connect opens a client; the caller closes it.
func Connect(address string) (*ctrd.Client, error) {
	c, err := ctrd.New(address, ctrd.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", address, err)
	}
	return c, nil
}

// WaitServing waits, with growing pauses, until the daemon at address answers a
// version request, or until timeout.
func WaitServing(ctx context.Context, address string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pause := 10 * time.Millisecond
	var last error
	for {
		if last = ping(ctx, address); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("containerd at %s not serving after %s: %w", address, timeout, last)
		case <-time.After(pause):
		}
		pause = min(pause*2, 500*time.Millisecond)
	}
}

func ping(ctx context.Context, address string) error {
	if _, err := os.Stat(address); err != nil {
		return err
	}
	c, err := ctrd.New(address, ctrd.WithTimeout(time.Second))
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = c.Version(ctx)
	return err
}

// CreateNamespace makes a containerd namespace with labels; an existing one is fine.
func CreateNamespace(ctx context.Context, address, ns string, labels map[string]string) error {
	c, err := Connect(address)
	if err != nil {
		return err
	}
	defer c.Close()
	// containerd 1.6 publishes the creation as an event, which needs a namespace.
	err = c.NamespaceService().Create(namespaces.WithNamespace(ctx, ns), ns, labels)
	if err != nil && !errdefs.IsAlreadyExists(err) {
		return fmt.Errorf("create containerd namespace %s: %w", ns, err)
	}
	return nil
}

// DeleteNamespace removes a containerd namespace and everything in it: tasks are
// killed, containers and their snapshots deleted, images and leases removed. A
// namespace (or a daemon) that is already gone is success.
func DeleteNamespace(ctx context.Context, address, ns string) error {
	if _, err := os.Stat(address); errors.Is(err, os.ErrNotExist) {
		return nil // no daemon, nothing in it
	}
	c, err := Connect(address)
	if err != nil {
		return err
	}
	defer c.Close()
	names, err := c.NamespaceService().List(ctx)
	if err != nil {
		return fmt.Errorf("list containerd namespaces: %w", err)
	}
	if !slices.Contains(names, ns) {
		return nil
	}
	nctx := namespaces.WithNamespace(ctx, ns)
	if err := emptyNamespace(nctx, c); err != nil {
		return fmt.Errorf("empty containerd namespace %s: %w", ns, err)
	}
	if err := c.NamespaceService().Delete(nctx, ns); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete containerd namespace %s: %w", ns, err)
	}
	return nil
}

func emptyNamespace(ctx context.Context, c *ctrd.Client) error {
	ctrs, err := c.Containers(ctx)
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	for _, ctr := range ctrs {
		if err := deleteContainer(ctx, c.TaskService(), ctr); err != nil {
			return err
		}
	}
	imgs, err := c.ImageService().List(ctx)
	if err != nil {
		return fmt.Errorf("list images: %w", err)
	}
	for i, img := range imgs {
		var opts []images.DeleteOpt
		if i == len(imgs)-1 {
			opts = append(opts, images.SynchronousDelete())
		}
		if err := c.ImageService().Delete(ctx, img.Name, opts...); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete image %s: %w", img.Name, err)
		}
	}
	ls, err := c.LeasesService().List(ctx)
	if err != nil {
		return fmt.Errorf("list leases: %w", err)
	}
	for _, l := range ls {
		if err := c.LeasesService().Delete(ctx, l, leases.SynchronousDelete); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete lease %s: %w", l.ID, err)
		}
	}
	return nil
}

func deleteContainer(ctx context.Context, ts tasks.TasksClient, ctr ctrd.Container) error {
	if err := stopTask(ctx, ctr); err != nil {
		return err
	}
	if err := kubectrd.DeleteTask(ctx, ts, ctr.ID()); err != nil {
		return err
	}
	if err := ctr.Delete(ctx, ctrd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete container %s: %w", ctr.ID(), err)
	}
	return nil
}

// stopTask kills the container's task if it runs and waits, for a bounded
// time, for its exit. A container without a task is fine; any other failure to
// look the task up is an error, since deleting the container then could leave
// its shim behind.
func stopTask(ctx context.Context, ctr ctrd.Container) error {
	task, err := ctr.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("task of %s: %w", ctr.ID(), err)
	}
	st, err := task.Status(ctx)
	if err != nil || st.Status == ctrd.Stopped {
		return nil
	}
	wait, werr := task.Wait(ctx)
	if err := task.Kill(ctx, syscall.SIGKILL, ctrd.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("kill task %s: %w", ctr.ID(), err)
	}
	if werr == nil {
		select {
		case <-wait:
		case <-time.After(10 * time.Second):
		}
	}
	return nil
}
