package containerd

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/containerd/containerd/api/services/tasks/v1"
	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/moby/sys/signal"

	"github.com/kinns/kinns/kubelet/runtime"
)

// killTimeout bounds the wait for a killed task's exit to be recorded.
const killTimeout = 30 * time.Second

// Stop sends the run its stop signal, and SIGKILL after grace, and returns
// once its exit is recorded. A run that is not running is fine.
func (c *Containerd) Stop(ctx context.Context, id string, grace time.Duration) error {
	ctx = c.nsCtx(ctx)
	ctr, err := c.client.LoadContainer(ctx, id)
	if err != nil {
		return notFound(err, id)
	}
	w, err := c.watchFor(ctx, ctr)
	if err != nil || w == nil {
		return err
	}
	labels, _ := ctr.Labels(ctx)
	sig := stopSignal(labels[runtime.LabelStopSignal])
	if grace > 0 {
		if err := w.task.Kill(ctx, sig); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("signal %s: %w", id, err)
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-w.done:
			return nil
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := w.task.Kill(ctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("kill %s: %w", id, err)
	}
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(killTimeout):
		return fmt.Errorf("container %s did not end %s after SIGKILL", id, killTimeout)
	}
}

// watchFor returns the watch of a running task, starting one if no one
// watches it (a task Recover could not attach to); nil if it does not run.
func (c *Containerd) watchFor(ctx context.Context, ctr ctrd.Container) (*watch, error) {
	c.mu.Lock()
	w := c.watches[ctr.ID()]
	c.mu.Unlock()
	if w != nil {
		return w, nil
	}
	task, err := ctr.Task(ctx, cio.NewAttach())
	if errdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("task of %s: %w", ctr.ID(), err)
	}
	if st, err := task.Status(ctx); err != nil || st.Status == ctrd.Stopped {
		return nil, nil
	}
	exited, err := task.Wait(c.ctx)
	if err != nil {
		return nil, fmt.Errorf("wait for task %s: %w", ctr.ID(), err)
	}
	return c.watch(ctr.ID(), task, exited, nil), nil
}

func stopSignal(name string) syscall.Signal {
	if name != "" {
		if s, err := signal.ParseSignal(name); err == nil {
			return s
		}
	}
	return syscall.SIGTERM
}

// Remove kills the run if it still runs and deletes its container and
// snapshot. A missing container is fine.
func (c *Containerd) Remove(ctx context.Context, id string) error {
	ctx = c.nsCtx(ctx)
	if err := c.Stop(ctx, id, 0); err != nil {
		return err
	}
	return c.removeUnstarted(ctx, id)
}

// removeUnstarted deletes a container that no watcher follows.
func (c *Containerd) removeUnstarted(ctx context.Context, id string) error {
	ctr, err := c.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load container %s: %w", id, err)
	}
	task, err := ctr.Task(ctx, nil)
	switch {
	case err == nil:
		if _, err := task.Delete(ctx, ctrd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete task %s: %w", id, err)
		}
	case !errdefs.IsNotFound(err):
		return fmt.Errorf("task of %s: %w", id, err)
	}
	if err := deleteTask(ctx, c.client.TaskService(), id); err != nil {
		return err
	}
	if err := ctr.Delete(ctx, ctrd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete container %s: %w", id, err)
	}
	return nil
}

// taskDeleteTimeout bounds one task deletion, which is not canceled with
// its caller.
const taskDeleteTimeout = time.Minute

// deleteTask asks containerd's task service to delete the task of container
// id; no task is fine. It finishes a deletion that containerd 1.6 left
// half-done when its caller went away (a canceled context, a killed kubelet):
// the shim has deleted its container, so Task reports no task and
// Task.Delete gives up, yet containerd still holds the task and its running
// shim, which only this call shuts down. Deleting the container without it
// would leave the shim running for good.
func deleteTask(ctx context.Context, ts tasks.TasksClient, id string) error {
	// A caller going away mid-way is what leaves a deletion half-done.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), taskDeleteTimeout)
	defer cancel()
	_, err := ts.Delete(ctx, &tasks.DeleteTaskRequest{ContainerID: id})
	if err = errgrpc.ToNative(err); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete task %s: %w", id, err)
	}
	return nil
}

func notFound(err error, id string) error {
	if errdefs.IsNotFound(err) {
		return fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	return fmt.Errorf("load container %s: %w", id, err)
}
