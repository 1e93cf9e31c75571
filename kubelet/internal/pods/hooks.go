package pods

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/kinns/kinns/kubelet/probe"
)

// minStopGrace is what a container keeps of its grace period after its
// preStop hook, however long the hook took (upstream's minimum, 2 s).
const minStopGrace = 2 * time.Second

// runHook runs a lifecycle handler against a run of c, as upstream's
// handler runner does: a command in the container, an HTTP GET (to the
// pod's IP unless the handler names a host), or a sleep; limit bounds it.
// The error says which hook failed and why.
func (k *Manager) runHook(ctx context.Context, pod *v1.Pod, c *v1.Container, h *v1.LifecycleHandler, podIP, runID string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	switch {
	case h.Sleep != nil:
		t := k.clock.NewTimer(time.Duration(h.Sleep.Seconds) * time.Second)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C():
		}
		return nil
	case h.Exec != nil, h.HTTPGet != nil:
		p := &v1.Probe{ProbeHandler: v1.ProbeHandler{Exec: h.Exec, HTTPGet: h.HTTPGet}, TimeoutSeconds: int32(max(limit/time.Second, 1))}
		if res, why := k.probe(ctx, pod, c, p, podIP, runID); res != probe.Success {
			return fmt.Errorf("%s lifecycle hook %s for Container %q in Pod %q failed - error: %s",
				hookKind(h), hookTarget(h), c.Name, pod.Name+"_"+pod.Namespace+"("+string(pod.UID)+")", why)
		}
		return nil
	}
	return errors.New("lifecycle hook has no handler")
}

func hookKind(h *v1.LifecycleHandler) string {
	if h.Exec != nil {
		return "Exec"
	}
	return "HTTP"
}

func hookTarget(h *v1.LifecycleHandler) string {
	if h.Exec != nil {
		return "(" + fmt.Sprint(h.Exec.Command) + ")"
	}
	return fmt.Sprintf("(%s:%s%s)", h.HTTPGet.Host, h.HTTPGet.Port.String(), h.HTTPGet.Path)
}

// postStart runs a container's postStart hook, if it has one, right after
// its start, as upstream does before it calls the container started. A
// failed hook is a FailedPostStartHook event and the run is stopped (its
// preStop hook first, as for any kill); the restart policy then decides.
func (w *podWorker) postStart(ctx context.Context, pod *v1.Pod, c *v1.Container, podIP, runID string) {
	if c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return
	}
	w.at("start " + c.Name + ": postStart hook")
	err := w.k.runHook(ctx, pod, c, c.Lifecycle.PostStart, podIP, runID, runtimeTimeout)
	if err == nil {
		return
	}
	w.k.event(pod, v1.EventTypeWarning, "FailedPostStartHook", "%v", err)
	w.k.log.Warn("postStart hook failed", "pod", w.name(), "container", c.Name, "err", err)
	w.k.event(pod, v1.EventTypeNormal, "Killing", "FailedPostStartHook")
	grace := w.preStop(ctx, pod, c.Name, runID, killGrace(pod)) // as upstream's kill
	if err := w.k.rt.Stop(ctx, runID, grace); err != nil {
		w.k.log.Error("stop container", "pod", w.name(), "container", c.Name, "err", err)
	}
}

// preStop runs a container's preStop hook, if it has one, before its stop
// and within its grace period; it returns the grace left for the stop
// (at least minStopGrace), as upstream's killContainer does. A failed hook
// is a FailedPreStopHook event; the stop goes on.
func (w *podWorker) preStop(ctx context.Context, pod *v1.Pod, name, runID string, grace time.Duration) time.Duration {
	c := containerByName(pod, name, false)
	if c == nil {
		c = containerByName(pod, name, true)
	}
	if c == nil || c.Lifecycle == nil || c.Lifecycle.PreStop == nil || grace <= 0 {
		return grace
	}
	start := w.k.clock.Now()
	if err := w.k.runHook(ctx, pod, c, c.Lifecycle.PreStop, w.sandboxIP(), runID, grace); err != nil {
		w.k.event(pod, v1.EventTypeWarning, "FailedPreStopHook", "%v", err)
		w.k.log.Warn("preStop hook failed", "pod", w.name(), "container", name, "err", strings.TrimSpace(err.Error()))
	}
	return max(grace-w.k.clock.Since(start), minStopGrace)
}
