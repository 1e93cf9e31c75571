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
	return c.watch(ctr.ID(), task, exited, nil, nil), nil
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
	if err := DeleteTask(ctx, c.client.TaskService(), id); err != nil {
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

// DeleteTask asks containerd's task service to delete the task of container
// id; no task is fine. The kubelet and the harness's teardown both use it.
//
// The client's Task and Task.Delete are not enough: containerd 1.6 stops
// half-way through a task deletion whose caller went away (a canceled
// context, a killed kubelet) after the shim deleted its container but before
// containerd shut the shim down. The task is then still registered, with its
// shim running, while the shim answers "not found" to every state request,
// so Task reports no task and Task.Delete gives up at its status check;
// deleting the container (and its namespace) then leaves the shim running
// for good. The task service's Delete, called again, finds the registered
// task, accepts the shim's "not found", and shuts the shim down.
func DeleteTask(ctx context.Context, ts tasks.TasksClient, id string) error {
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
