package pods

import (
	"context"
	"errors"
	"maps"
	"os"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kinns/kinns/kubelet/runtime"
)

// retryIn is when a sync that failed on a transient error runs again.
const retryIn = 2 * time.Second

// syncPod moves a live pod towards its spec and reports its status.
func (w *podWorker) syncPod(ctx context.Context, pod *v1.Pod) time.Duration {
	if w.stopped {
		return 0 // the final status is on its way through the API
	}
	w.at("admit")
	if ok, err := w.admitted(ctx, pod); !ok {
		if err != nil {
			w.k.log.Warn("pod admission", "pod", w.name(), "err", err)
		}
		return retryIn // until the API shows the pod Failed, or admits it
	}
	w.at("allocate")
	pod = w.allocate(pod)
	w.at("sandbox")
	sb, err := w.ensureSandbox(ctx, pod)
	if err != nil {
		w.k.log.Error("pod sandbox", "pod", w.name(), "err", err)
		w.k.event(pod, v1.EventTypeWarning, "FailedCreatePodSandBox", "create pod sandbox: %v", err)
		w.report(ctx, pod, runs{}, nil, false)
		return retryIn
	}
	w.at("list containers")
	rs, err := w.list(ctx)
	if err != nil {
		w.k.log.Error("list pod containers", "pod", w.name(), "err", err)
		return retryIn
	}
	if w.lastSent == nil && len(rs) == 0 {
		// First sync: say at once that the pod is being set up (its
		// containers waiting in ContainerCreating), as the kubelet does.
		w.at("report")
		w.report(ctx, pod, rs, sb, false)
	}
	w.probes.sync(pod, rs, sb.IP)
	p := decide(decideInput{
		pod: pod, runs: rs, unhealthy: w.probes.unhealthy(), killed: w.killed,
		backoff: w.k.backoff, now: w.k.clock.Now(),
	})
	if w.done {
		p.actions = onlyKills(p.actions)
	}
	w.done = w.done || p.done
	if p.deadlineExceeded && !w.deadlineExceeded {
		w.deadlineExceeded = true
		w.k.event(pod, v1.EventTypeNormal, deadlineReason, "%s", deadlineMessage)
	}
	requeue := p.requeue
	lastErr := w.resizeError
	w.resizeError = ""
	if resizes(p.actions) && lastErr == "" {
		// PodResizeInProgress while the new limits are applied.
		w.report(ctx, pod, rs, sb, false)
	}
	if len(p.actions) > 0 {
		requeue = earliest(requeue, w.act(ctx, pod, sb, rs, p.actions))
		if rs, err = w.list(ctx); err != nil {
			return retryIn
		}
		w.probes.sync(pod, rs, sb.IP)
		if restartsAtOnce(p.actions) {
			if p, rs, err = w.restartKilled(ctx, pod, sb, rs); err != nil {
				return retryIn
			}
			requeue = earliest(requeue, p.requeue)
		}
	}
	w.setBackoffWaiting(p.backoff)
	if rs.anyRunning() { // a pod whose containers all ended reads no file
		w.refreshVolumes(ctx, pod)
	}
	w.at("collect old runs")
	w.gcRuns(ctx, rs)
	w.at("report")
	if !w.report(ctx, pod, rs, sb, false) {
		requeue = earliest(requeue, retryIn)
	}
	return requeue
}

// restartKilled starts again, in the sync that stopped them, the runs
// killed because their container's image changed: as upstream's kubelet,
// which kills and starts in one pass, the pod goes from the old run to the
// new one without a status in between that shows it not ready.
func (w *podWorker) restartKilled(ctx context.Context, pod *v1.Pod, sb *sandbox, rs runs) (plan, runs, error) {
	p := decide(decideInput{
		pod: pod, runs: rs, unhealthy: w.probes.unhealthy(), killed: w.killed,
		backoff: w.k.backoff, now: w.k.clock.Now(),
	})
	starts := onlyStarts(p.actions)
	if len(starts) == 0 {
		return p, rs, nil
	}
	p.requeue = earliest(p.requeue, w.act(ctx, pod, sb, rs, starts))
	rs, err := w.list(ctx)
	if err == nil {
		w.probes.sync(pod, rs, sb.IP)
	}
	return p, rs, err
}

// restartsAtOnce: some action kills a run that starts again whatever its
// exit (its container's image changed).
func restartsAtOnce(as []action) bool {
	for _, a := range as {
		if a.kind == actKill && a.then == killChanged {
			return true
		}
	}
	return false
}

// refreshVolumes keeps a running pod's written volumes current: tokens
// once due (checked on every sync, no API call until then), the rest from
// the API once per SyncInterval, or at once when the pod's labels or
// annotations (what the downward API shows) changed.
func (w *podWorker) refreshVolumes(ctx context.Context, pod *v1.Pod) {
	w.at("refresh tokens")
	if err := w.k.inputs.RefreshTokens(ctx, pod); err != nil {
		w.k.log.Warn("refresh service account tokens", "pod", w.name(), "err", err)
	}
	now := w.k.clock.Now()
	if !w.volumesDue(pod, now) {
		return
	}
	w.at("refresh volumes")
	w.volumesAt, w.volumesMeta = now, pod.ObjectMeta
	if err := w.k.inputs.RefreshVolumes(ctx, pod); err != nil {
		w.k.log.Warn("refresh volumes", "pod", w.name(), "err", err)
	}
}

// volumesDue: a SyncInterval passed since the last refresh, or the pod's
// labels or annotations changed.
func (w *podWorker) volumesDue(pod *v1.Pod, now time.Time) bool {
	return now.Sub(w.volumesAt) >= w.k.cfg.SyncInterval ||
		!maps.Equal(pod.Labels, w.volumesMeta.Labels) || !maps.Equal(pod.Annotations, w.volumesMeta.Annotations)
}

// act runs a plan's kills (together), its in-place resizes, and then its
// starts (in order).
func (w *podWorker) act(ctx context.Context, pod *v1.Pod, sb *sandbox, rs runs, actions []action) time.Duration {
	var kills []action
	var requeue time.Duration
	for _, a := range actions {
		if a.kind == actKill {
			kills = append(kills, a)
		}
	}
	w.stopRuns(ctx, pod, kills, killGrace(pod))
	w.updateRuns(ctx, pod, actions)
	for _, a := range actions {
		if a.kind == actStart {
			requeue = earliest(requeue, w.start(ctx, pod, sb, rs, a))
		}
	}
	return requeue
}

// stopRuns stops runs in parallel, each with the grace period.
func (w *podWorker) stopRuns(ctx context.Context, pod *v1.Pod, kills []action, grace time.Duration) {
	w.at("stop containers")
	var wg sync.WaitGroup
	seen := map[string]bool{}
	for _, a := range kills {
		if seen[a.id] {
			continue
		}
		seen[a.id] = true
		if a.then != killPlain {
			w.killed[a.id] = a.then
		}
		if pod != nil {
			w.k.event(pod, v1.EventTypeNormal, "Killing", "Stopping container %s: %s", a.name, a.reason)
		}
		wg.Go(func() {
			grace := grace
			if pod != nil {
				grace = w.preStop(ctx, pod, a.name, a.id, grace)
			}
			if err := w.k.rt.Stop(ctx, a.id, grace); err != nil {
				w.k.log.Error("stop container", "pod", w.name(), "container", a.name, "err", err)
			}
		})
	}
	wg.Wait()
}

// stopAll stops every running run of the pod.
func (w *podWorker) stopAll(ctx context.Context, pod *v1.Pod, rs runs, grace time.Duration, why string) {
	var kills []action
	for name, list := range rs {
		if list[0].State == runtime.StateRunning {
			kills = append(kills, action{kind: actKill, name: name, id: list[0].ID, reason: why})
		}
	}
	w.stopRuns(ctx, pod, kills, grace)
}

// terminate stops a pod being deleted within its grace period, reports its
// final status, frees its network and makes the final delete.
func (w *podWorker) terminate(ctx context.Context, pod *v1.Pod) time.Duration {
	if !w.stopped {
		w.probes.stopAll()
		rs, err := w.list(ctx)
		if err != nil {
			return retryIn
		}
		w.stopAll(ctx, pod, rs, deletionGrace(pod), "pod deleted")
		if rs, err = w.list(ctx); err != nil {
			return retryIn
		}
		w.report(ctx, pod, rs, w.sandbox, true)
		if err := w.teardown(ctx, rs); err != nil {
			w.k.log.Error("tear down pod", "pod", w.name(), "err", err)
			return retryIn
		}
		w.stopped = true
	}
	zero := int64(0)
	err := w.k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: metav1.NewUIDPreconditions(string(pod.UID)),
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		w.k.log.Error("delete pod", "pod", w.name(), "err", err)
		return retryIn
	}
	w.k.log.Info("pod terminated", "pod", w.name(), "uid", w.uid)
	return 0 // the informer's delete event finishes the worker
}

// finish stops what still runs of a pod whose phase is final, and frees its
// network and containers; logs stay until the pod is deleted.
func (w *podWorker) finish(ctx context.Context, pod *v1.Pod) time.Duration {
	if w.stopped {
		return 0
	}
	w.probes.stopAll()
	rs, err := w.list(ctx)
	if err != nil {
		return retryIn
	}
	w.stopAll(ctx, pod, rs, killGrace(pod), "pod completed")
	if rs, err = w.list(ctx); err == nil {
		err = w.teardown(ctx, rs)
	}
	if err != nil {
		w.k.log.Error("tear down finished pod", "pod", w.name(), "err", err)
		return retryIn
	}
	w.stopped = true
	return 0
}

// cleanup removes everything of a pod the API no longer has.
func (w *podWorker) cleanup(ctx context.Context, pod *v1.Pod) (time.Duration, bool) {
	w.probes.stopAll()
	rs, err := w.list(ctx)
	if err != nil {
		return retryIn, false
	}
	grace := orphanGrace
	if pod != nil {
		grace = min(deletionGrace(pod), grace)
	}
	w.stopAll(ctx, nil, rs, grace, "pod removed")
	if rs, err = w.list(ctx); err == nil {
		err = errors.Join(w.teardown(ctx, rs), w.k.removePodFiles(ctx, w.ref))
	}
	if err != nil {
		w.k.log.Error("clean up pod", "pod", w.name(), "err", err)
		return retryIn, false
	}
	w.k.backoff.Forget(string(w.uid) + "/")
	w.k.inputs.ForgetPod(w.uid)
	w.k.allocs.forget(w.uid)
	w.k.log.Info("pod cleaned up", "pod", w.name(), "uid", w.uid)
	return 0, true
}

// teardown removes the pod's containers, network and cgroup.
func (w *podWorker) teardown(ctx context.Context, rs runs) error {
	var errs []error
	for _, list := range rs {
		for _, r := range list {
			errs = append(errs, w.k.rt.Remove(ctx, r.ID))
		}
	}
	errs = append(errs, w.k.deleteSandbox(ctx, w.ref), w.k.rt.RemoveCgroup(w.k.inputs.PodCgroup(w.uid)))
	w.sandbox = nil
	w.mu.Lock()
	w.ip = ""
	w.mu.Unlock()
	return errors.Join(errs...)
}

// gcRuns keeps, per container, the current run and the one before it (for
// lastState and `logs --previous`); older exited runs are removed, with
// their log files.
func (w *podWorker) gcRuns(ctx context.Context, rs runs) {
	for id := range w.killed {
		if !rs.has(id) {
			delete(w.killed, id)
		}
	}
	for id := range w.messages {
		if !rs.has(id) {
			delete(w.messages, id)
		}
	}
	for _, list := range rs {
		for _, r := range list[min(2, len(list)):] {
			if r.State != runtime.StateExited {
				continue
			}
			if err := w.k.rt.Remove(ctx, r.ID); err != nil {
				w.k.log.Warn("remove old container", "id", r.ID, "err", err)
				continue
			}
			if r.LogPath != "" {
				os.Remove(r.LogPath)
			}
			os.Remove(w.k.inputs.TerminationLogPath(w.uid, r.Name, r.Attempt))
		}
	}
}

func (w *podWorker) list(ctx context.Context) (runs, error) {
	cs, err := w.k.rt.List(ctx, string(w.uid))
	if err != nil {
		return nil, err
	}
	return groupRuns(cs), nil
}

// setBackoffWaiting shows CrashLoopBackOff for containers waiting to restart.
func (w *podWorker) setBackoffWaiting(backoff map[string]string) {
	for name, wt := range w.waiting {
		if _, ok := backoff[name]; !ok && wt.Reason == "CrashLoopBackOff" {
			delete(w.waiting, name)
		}
	}
	for name, msg := range backoff {
		w.waiting[name] = waiting{Reason: "CrashLoopBackOff", Message: msg}
	}
}

func (w *podWorker) name() string { return w.ref.Namespace + "/" + w.ref.Name }

// orphanGrace bounds the stop of a pod whose deletion the kubelet missed.
const orphanGrace = 2 * time.Second

func killGrace(pod *v1.Pod) time.Duration {
	if s := pod.Spec.TerminationGracePeriodSeconds; s != nil {
		return time.Duration(*s) * time.Second
	}
	return 30 * time.Second
}

func deletionGrace(pod *v1.Pod) time.Duration {
	if s := pod.DeletionGracePeriodSeconds; s != nil {
		return time.Duration(*s) * time.Second
	}
	return killGrace(pod)
}

func onlyKills(as []action) []action {
	var out []action
	for _, a := range as {
		if a.kind == actKill {
			out = append(out, a)
		}
	}
	return out
}

func onlyStarts(as []action) []action {
	var out []action
	for _, a := range as {
		if a.kind == actStart {
			out = append(out, a)
		}
	}
	return out
}

func earliest(a, b time.Duration) time.Duration {
	if a == 0 || (b > 0 && b < a) {
		return b
	}
	return a
}
