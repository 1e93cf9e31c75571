package pods

import (
	"context"
	"fmt"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// allocate returns the pod as the kubelet runs it: a copy with its
// allocated resources. A new pod's allocation is its spec (the scheduler
// placed it); a resize in the spec is admitted first if it fits the node,
// else it stays pending (PodResizePending) and is tried again each sync.
func (w *podWorker) allocate(pod *v1.Pod) *v1.Pod {
	k := w.k
	k.allocs.admit.Lock()
	defer k.allocs.admit.Unlock()
	want := allocationOf(pod)
	have, ok, err := k.allocs.get(pod.UID)
	if err != nil {
		k.log.Warn("pod allocation unreadable, using its spec", "pod", w.name(), "err", err)
	}
	if !ok || have.equal(want) {
		if !ok {
			w.saveAllocation(pod, want)
		}
		w.setPending(pod, nil)
		return withAllocation(pod, want)
	}
	pending := admitResize(podRequests(withAllocation(pod, want)), k.usedBy(pod.UID), k.cfg.Allocatable())
	if pending == nil && w.saveAllocation(pod, want) {
		w.setPending(pod, nil)
		k.log.Info("pod resize admitted", "pod", w.name(), "generation", pod.Generation)
		k.event(pod, v1.EventTypeNormal, "ResizeStarted", "Pod resize started: generation %d", pod.Generation)
		return withAllocation(pod, want)
	}
	w.setPending(pod, pending)
	return withAllocation(pod, have)
}

func (w *podWorker) saveAllocation(pod *v1.Pod, a allocation) bool {
	if err := w.k.allocs.set(pod.UID, a); err != nil {
		w.k.log.Error("save pod allocation", "pod", w.name(), "err", err)
		return false
	}
	return true
}

// setPending records why a resize waits, with an event when that changes.
func (w *podWorker) setPending(pod *v1.Pod, p *pendingResize) {
	old := w.resizePending
	w.resizePending = p
	if p == nil || (old != nil && *old == *p) {
		return
	}
	w.k.log.Info("pod resize pending", "pod", w.name(), "reason", p.reason, "message", p.message)
	w.k.event(pod, v1.EventTypeWarning, "Resize"+p.reason, "Pod resize %s: %s", p.reason, p.message)
}

// usedBy sums the allocated requests of the node's other live pods.
func (k *Manager) usedBy(except types.UID) v1.ResourceList {
	used := v1.ResourceList{}
	if k.pods == nil {
		return used
	}
	pods, _ := k.pods.List(labels.Everything())
	for _, p := range pods {
		if p.UID == except || p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed {
			continue
		}
		if a, ok, _ := k.allocs.get(p.UID); ok {
			p = withAllocation(p, a)
		}
		for name, q := range podRequests(p) {
			sum := used[name]
			sum.Add(q)
			used[name] = sum
		}
	}
	return used
}

// updateRuns applies a plan's in-place resizes; what failed is kept as the
// PodResizeInProgress condition's error until a sync succeeds.
func (w *podWorker) updateRuns(ctx context.Context, pod *v1.Pod, actions []action) {
	var errs []string
	for _, a := range actions {
		if a.kind != actUpdate {
			continue
		}
		w.at("resize " + a.name)
		if err := w.updateRun(ctx, a); err != nil {
			w.k.log.Warn("resize container", "pod", w.name(), "container", a.name, "err", err)
			errs = append(errs, err.Error())
			continue
		}
		w.k.log.Info("container resized", "pod", w.name(), "container", a.name, "resources", a.resources.String())
	}
	if len(errs) > 0 {
		w.resizeError = strings.Join(errs, "; ")
		w.k.event(pod, v1.EventTypeWarning, "ResizeError", "Pod resize error: %s", w.resizeError)
	}
}

// updateRun applies new limits to one run. A memory limit set or lowered
// below what the container uses now is refused, as upstream refuses it
// (the kernel would OOM-kill the container): the resize stays in progress.
func (w *podWorker) updateRun(ctx context.Context, a action) error {
	if memoryLowered(a.from, a.resources) {
		usage, err := w.k.rt.MemoryUsage(ctx, a.id)
		if err != nil {
			return fmt.Errorf("unable to read memory usage of container %q: %w", a.name, err)
		}
		if usage >= a.resources.MemoryLimit {
			return fmt.Errorf("cannot decrease memory limits: attempting to set container %q memory limit (%d) below current usage (%d)",
				a.name, a.resources.MemoryLimit, usage)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, runtimeTimeout)
	defer cancel()
	return w.k.rt.Update(ctx, a.id, a.resources)
}

// resizes: the plan applies an in-place resize.
func resizes(actions []action) bool {
	for _, a := range actions {
		if a.resize {
			return true
		}
	}
	return false
}
