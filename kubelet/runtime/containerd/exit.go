package containerd

import (
	"context"
	"fmt"
	"strconv"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"

	"github.com/kinns/kinns/kubelet/runtime"
)

// watch follows one running task: it records the exit once the task ends.
type watch struct {
	task ctrd.Task
	sink LogSink
	// console is what attach sessions reach.
	console *console
	// done is closed once the exit is recorded (or watching stopped).
	done chan struct{}
}

// detach stops reading the task's output without touching the task or its
// pipes, so that the next kubelet can attach to them.
func (w *watch) detach() {
	if io := w.task.IO(); io != nil {
		io.Cancel()
	}
}

func (c *Containerd) watch(id string, task ctrd.Task, exited <-chan ctrd.ExitStatus, sink LogSink, con *console) *watch {
	w := &watch{task: task, sink: sink, console: con, done: make(chan struct{})}
	c.mu.Lock()
	c.watches[id] = w
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(w.done)
		e, ok := c.awaitExit(id, task, exited)
		if !ok {
			if sink != nil {
				sink.Close() // shutting down: the task lives on
			}
			return
		}
		con.runEnded()
		rec, err := c.recordExit(c.ctx, id, task, e, sink)
		c.mu.Lock()
		delete(c.watches, id)
		c.mu.Unlock()
		if err != nil {
			c.cfg.Log.Error("record container exit", "id", id, "err", err)
			return
		}
		c.cfg.OnExit(rec)
	}()
	return w
}

// awaitExit waits for the task to end. A wait that fails while the task
// still runs (containerd restarting: shims outlive it) is renewed; false
// means the Containerd is closing.
func (c *Containerd) awaitExit(id string, task ctrd.Task, exited <-chan ctrd.ExitStatus) (exit, bool) {
	for {
		st := <-exited
		if c.ctx.Err() != nil {
			return exit{}, false
		}
		if st.Error() == nil {
			return exitOf(st), true
		}
		c.cfg.Log.Warn("waiting for task failed; looking again", "id", id, "err", st.Error())
		select {
		case <-c.ctx.Done():
			return exit{}, false
		case <-time.After(time.Second):
		}
		status, err := task.Status(c.ctx)
		switch {
		case errdefs.IsNotFound(err):
			return exit{code: 137, at: time.Now(), lost: true}, true
		case err == nil && status.Status == ctrd.Stopped:
			return exit{code: status.ExitStatus, at: nonZero(status.ExitTime)}, true
		}
		next, err := task.Wait(c.ctx)
		if err != nil {
			next = failedWait(err)
		}
		exited = next
	}
}

func failedWait(err error) <-chan ctrd.ExitStatus {
	ch := make(chan ctrd.ExitStatus, 1)
	ch <- *ctrd.NewExitStatus(ctrd.UnknownExitStatus, time.Time{}, err)
	return ch
}

// exit is how a task ended.
type exit struct {
	code uint32
	at   time.Time
	// lost: containerd no longer knows the task.
	lost bool
}

func exitOf(st ctrd.ExitStatus) exit {
	at := st.ExitTime()
	if at.IsZero() {
		at = time.Now()
	}
	return exit{code: st.ExitCode(), at: at}
}

// recordExit writes how a run ended into its labels, after deleting its task
// (which flushes its output) and closing its log. It is idempotent.
func (c *Containerd) recordExit(ctx context.Context, id string, task ctrd.Task, e exit, sink LogSink) (runtime.Container, error) {
	defer c.lock(id)()
	ctr, err := c.client.LoadContainer(ctx, id)
	if err != nil {
		return runtime.Container{}, fmt.Errorf("load container %s: %w", id, err)
	}
	labels, err := ctr.Labels(ctx)
	if err != nil {
		return runtime.Container{}, fmt.Errorf("labels of %s: %w", id, err)
	}
	if labels[runtime.LabelFinishedAt] != "" {
		return fromLabels(id, labels), nil
	}
	reason := exitReason(e, c.cg.oomKilled(labels[runtime.LabelCgroup]))
	if task != nil {
		drain(task.IO(), 2*time.Second)
		// Not cut short by the kubelet stopping: containerd 1.6 leaves a
		// Delete whose caller went away half-done (see DeleteTask).
		if _, err := task.Delete(context.WithoutCancel(ctx)); err != nil && !errdefs.IsNotFound(err) {
			c.cfg.Log.Warn("delete exited task", "id", id, "err", err)
		}
	}
	if sink != nil {
		sink.Close()
	}
	set := map[string]string{runtime.LabelFinishedAt: stamp(e.at), runtime.LabelExitCode: strconv.Itoa(int(e.code)), runtime.LabelReason: reason}
	if e.lost {
		set[runtime.LabelMessage] = "The container could not be located when the kubelet looked for it"
	}
	if labels, err = ctr.SetLabels(ctx, set); err != nil {
		return runtime.Container{}, fmt.Errorf("record exit of %s: %w", id, err)
	}
	return fromLabels(id, labels), nil
}

func exitReason(e exit, oom bool) string {
	switch {
	case e.lost:
		return runtime.ReasonUnknown
	case oom:
		return runtime.ReasonOOMKilled
	case e.code == 0:
		return runtime.ReasonCompleted
	}
	return runtime.ReasonError
}

// drain waits, for a bounded time, until the output copied from a task's pipes
// reaches its end: deleting the task closes them, and would cut what is
// still in them.
func drain(io cio.IO, limit time.Duration) {
	if io == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		io.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(limit):
	}
}
