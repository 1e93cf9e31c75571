package scheduler

import (
	"context"
	"errors"
	"fmt"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

var everything = labels.Everything()

// scheduleOne decides for the pod with key and hands the API calls that
// follow to a worker. The pod is read from the informer's cache, so a pod
// deleted, bound or changed while it waited in the queue is seen as it is
// now.
func (s *scheduler) scheduleOne(ctx context.Context, key string, t ticket) {
	pod, ok := s.pendingPod(key)
	if !ok {
		s.queue.Delete(key)
		return
	}
	if len(pod.Spec.SchedulingGates) > 0 {
		// Removing the last gate is a spec update, which queues the pod again.
		s.queue.Delete(key)
		s.async(ctx, func(ctx context.Context) { s.reportGated(ctx, pod) })
		return
	}
	vols := ReadPodVolumes(pod, s.volumeListers)
	d, bound, err := s.cache.schedule(pod, vols)
	var fit *FitError
	switch {
	case errors.As(err, &fit):
		s.queue.Unschedulable(key, t, wakeOn(fit))
		pre, ok, why := s.cache.preempt(pod, fit, s.budgets())
		if ok {
			s.cache.nominate(pod, pre.Node)
			s.async(ctx, func(ctx context.Context) { s.preempt(ctx, pod, pre) })
		} else if why != "" {
			fit.PostFilterMsg = "preemption: " + why
		}
		s.async(ctx, func(ctx context.Context) { s.reportFailure(ctx, pod, v1.PodReasonUnschedulable, err.Error()) })
	case err != nil:
		// The pod itself is malformed: only a change of the pod can help.
		s.queue.Unschedulable(key, t, 0)
		s.log.Error("cannot schedule pod", "pod", key, "err", err)
		s.async(ctx, func(ctx context.Context) { s.reportFailure(ctx, pod, v1.PodReasonSchedulerError, err.Error()) })
	default:
		s.queue.Assumed(key)
		s.async(ctx, func(ctx context.Context) { s.bind(ctx, bound, d.Node, vols.Delayed) })
	}
}

// pendingPod returns the pod with key if it still waits for this scheduler.
func (s *scheduler) pendingPod(key string) (*v1.Pod, bool) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil, false
	}
	pod, err := s.pods.Pods(ns).Get(name)
	if err != nil || !s.pending(pod) {
		return nil, false
	}
	return pod, true
}

// bind writes node on the pod's delayed claims, then binds the assumed pod
// to node. On failure the assumption is undone and the pod retried after
// its backoff, unless it is gone.
func (s *scheduler) bind(ctx context.Context, assumed *v1.Pod, node string, delayed []string) {
	if err := s.selectNode(ctx, assumed.Namespace, delayed, node); err != nil {
		s.cache.forget(assumed)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("selecting the node of the pod's claims failed", "pod", podKey(assumed), "node", node, "err", err)
		s.queue.Retry(podKey(assumed))
		s.reportFailure(ctx, assumed, v1.PodReasonSchedulerError, fmt.Sprintf("running PreBind plugin \"VolumeBinding\": %v", err))
		return
	}
	binding := &v1.Binding{
		// The UID makes the API server refuse the binding if the pod was
		// replaced by another of the same name meanwhile.
		ObjectMeta: metav1.ObjectMeta{Namespace: assumed.Namespace, Name: assumed.Name, UID: assumed.UID},
		Target:     v1.ObjectReference{Kind: "Node", Name: node},
	}
	err := s.client.CoreV1().Pods(assumed.Namespace).Bind(ctx, binding, metav1.CreateOptions{})
	if err == nil {
		s.log.Debug("bound pod", "pod", podKey(assumed), "node", node)
		s.recorder.Eventf(assumed, nil, v1.EventTypeNormal, "Scheduled", "Binding",
			"Successfully assigned %s/%s to %s", assumed.Namespace, assumed.Name, node)
		return
	}
	s.cache.forget(assumed)
	if ctx.Err() != nil || apierrors.IsNotFound(err) {
		return // shutting down, or the pod is gone: its deletion clears the queue
	}
	s.log.Warn("binding failed", "pod", podKey(assumed), "node", node, "err", err)
	s.queue.Retry(podKey(assumed))
	if apierrors.IsConflict(err) {
		return // bound by someone else, or replaced: the retry will see it
	}
	s.reportFailure(ctx, assumed, v1.PodReasonSchedulerError, fmt.Sprintf("Binding rejected: %v", err))
}

// selectNode writes node in the selected-node annotation of the named
// claims (upstream's VolumeBinding PreBind for dynamic provisioning); the
// provisioner then makes their volumes there. The pod is bound without
// waiting for them: its kubelet waits for the claims to be bound before it
// starts the containers.
func (s *scheduler) selectNode(ctx context.Context, ns string, claims []string, node string) error {
	for _, name := range claims {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, AnnSelectedNode, node)
		_, err := s.client.CoreV1().PersistentVolumeClaims(ns).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		if err != nil {
			return fmt.Errorf("select node %s for claim %s/%s: %w", node, ns, name, err)
		}
	}
	return nil
}
