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

// List returns the runs of one pod (podUID "": of every pod) in the node's
// namespace. A run whose task ended unseen (while no kubelet watched it) has
// its exit recorded on the way.
func (c *Containerd) List(ctx context.Context, podUID string) ([]runtime.Container, error) {
	ctx = c.nsCtx(ctx)
	filter := fmt.Sprintf("labels.%q", runtime.LabelPodUID)
	if podUID != "" {
		filter = fmt.Sprintf("labels.%q==%q", runtime.LabelPodUID, podUID)
	}
	ctrs, err := c.client.Containers(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]runtime.Container, 0, len(ctrs))
	for _, ctr := range ctrs {
		rec, err := c.inspect(ctx, ctr)
		if errdefs.IsNotFound(err) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// inspect reads one run's record, checking with its task whether a run that
// has not recorded an exit still runs.
func (c *Containerd) inspect(ctx context.Context, ctr ctrd.Container) (runtime.Container, error) {
	// The labels as listed: no round trip per container.
	info, err := ctr.Info(ctx, ctrd.WithoutRefreshedMetadata)
	if err != nil {
		return runtime.Container{}, err
	}
	rec := fromLabels(ctr.ID(), info.Labels)
	if rec.State != runtime.StateRunning {
		return rec, nil
	}
	c.mu.Lock()
	_, watched := c.watches[ctr.ID()]
	c.mu.Unlock()
	if watched {
		return rec, nil
	}
	// Attached with no streams, so that deleting the task removes its pipes.
	task, err := ctr.Task(ctx, cio.NewAttach())
	if err != nil && !errdefs.IsNotFound(err) {
		return runtime.Container{}, fmt.Errorf("task of %s: %w", ctr.ID(), err)
	}
	if err == nil {
		st, err := task.Status(ctx)
		if err != nil {
			return runtime.Container{}, fmt.Errorf("task status of %s: %w", ctr.ID(), err)
		}
		if st.Status != ctrd.Stopped {
			return rec, nil // running, not ours to watch (Recover was not called)
		}
		return c.recordExit(ctx, ctr.ID(), task, exit{code: st.ExitStatus, at: nonZero(st.ExitTime)}, nil)
	}
	return c.recordExit(ctx, ctr.ID(), nil, exit{code: 137, at: time.Now(), lost: true}, nil)
}

// Recover takes over the runs a previous kubelet started: it reattaches
// their output to their logs and watches them again; runs that ended
// meanwhile get their exit recorded. Call it once, before anything else.
func (c *Containerd) Recover(ctx context.Context) ([]runtime.Container, error) {
	ctx = c.nsCtx(ctx)
	ctrs, err := c.client.Containers(ctx, fmt.Sprintf("labels.%q", runtime.LabelPodUID))
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []runtime.Container
	for _, ctr := range ctrs {
		labels, err := ctr.Labels(ctx)
		if err != nil {
			return nil, err
		}
		rec := fromLabels(ctr.ID(), labels)
		if rec.State == runtime.StateRunning {
			if err := c.reattach(ctx, ctr, rec); err != nil {
				return nil, err
			}
		}
		if rec, err = c.inspect(ctx, ctr); err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// reattach watches a running task again, its output appended to its log.
func (c *Containerd) reattach(ctx context.Context, ctr ctrd.Container, rec runtime.Container) error {
	sink, err := c.cfg.OpenLog(rec.LogPath)
	if err != nil {
		return fmt.Errorf("open log %s: %w", rec.LogPath, err)
	}
	// Its stdin, if it had one, was the last kubelet's pipe: attach
	// sessions get its output only.
	con, _ := newConsole(runtime.Spec{TTY: rec.TTY})
	opts := []cio.Opt{cio.WithStreams(nil, con.stream("stdout", sink.Stream("stdout")), con.stream("stderr", sink.Stream("stderr")))}
	if rec.TTY {
		opts = append(opts, cio.WithTerminal)
	}
	task, err := ctr.Task(ctx, cio.NewAttach(opts...))
	if errdefs.IsNotFound(err) {
		sink.Close()
		return nil // inspect records it as lost
	}
	if err != nil {
		sink.Close()
		return fmt.Errorf("attach to task %s: %w", ctr.ID(), err)
	}
	st, err := task.Status(ctx)
	if err != nil {
		sink.Close()
		return fmt.Errorf("task status of %s: %w", ctr.ID(), err)
	}
	if st.Status == ctrd.Stopped {
		_, err := c.recordExit(ctx, ctr.ID(), task, exit{code: st.ExitStatus, at: nonZero(st.ExitTime)}, sink)
		return err
	}
	exited, err := task.Wait(c.ctx)
	if err != nil {
		sink.Close()
		return fmt.Errorf("wait for task %s: %w", ctr.ID(), err)
	}
	c.cfg.Log.Info("adopted running container", "id", ctr.ID(), "pod", rec.Pod.Namespace+"/"+rec.Pod.Name, "container", rec.Name)
	c.watch(ctr.ID(), task, exited, sink, con)
	return nil
}

// fromLabels rebuilds a run's record; State is what the labels say (running
// means started and no exit recorded).
func fromLabels(id string, l map[string]string) runtime.Container {
	attempt, _ := strconv.Atoi(l[runtime.LabelAttempt])
	rec := runtime.Container{
		ID:        id,
		Pod:       runtime.PodRef{UID: l[runtime.LabelPodUID], Namespace: l[runtime.LabelPodNamespace], Name: l[runtime.LabelPodName]},
		Name:      l[runtime.LabelContainerName],
		Init:      l[runtime.LabelInit] == "true",
		Ephemeral: l[runtime.LabelEphemeral] == "true",
		TTY:       l[runtime.LabelTTY] == "true",
		Attempt:   attempt,
		Image:     l[runtime.LabelImage], ImageID: l[runtime.LabelImageID], LogPath: l[runtime.LabelLogPath],
		StartedAt: parseStamp(l[runtime.LabelStartedAt]), FinishedAt: parseStamp(l[runtime.LabelFinishedAt]),
		Reason: l[runtime.LabelReason], Message: l[runtime.LabelMessage],
		Resources: runtime.ParseResources(l[runtime.LabelResources]),
		State:     runtime.StateCreated,
	}
	switch {
	case l[runtime.LabelFinishedAt] != "":
		rec.State = runtime.StateExited
		rec.ExitCode, _ = strconv.Atoi(l[runtime.LabelExitCode])
	case l[runtime.LabelStartedAt] != "":
		rec.State = runtime.StateRunning
	}
	return rec
}

func mustLabels(ctx context.Context, ctr ctrd.Container) map[string]string {
	l, _ := ctr.Labels(ctx)
	return l
}

func parseStamp(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func nonZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// TaskPID is the host PID of a run's process, for tests and debugging.
func (c *Containerd) TaskPID(ctx context.Context, id string) (uint32, error) {
	ctx = c.nsCtx(ctx)
	ctr, err := c.client.LoadContainer(ctx, id)
	if err != nil {
		return 0, notFound(err, id)
	}
	task, err := ctr.Task(ctx, nil)
	if err != nil {
		return 0, notFound(err, id)
	}
	return task.Pid(), nil
}
