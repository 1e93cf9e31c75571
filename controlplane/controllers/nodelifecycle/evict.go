package nodelifecycle

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// evict deletes the pods whose tolerations of their node's NoExecute taints
// ran out. In a disrupted mode the unreachable and not-ready taints do not
// count (they may come from the outage itself); other NoExecute taints, put
// there by people, always do.
func (c *Controller) evict(ctx context.Context, mode Mode, now time.Time) {
	nodes, _ := c.nodes.List(labels.Everything())
	seen := map[taintKey]bool{}
	for _, n := range nodes {
		taints := c.noExecute(n, mode, now, seen)
		if len(taints) == 0 {
			continue
		}
		for _, pod := range c.podsOn(n.Name) {
			if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
				continue
			}
			if at, ok := evictionDeadline(pod, taints); ok && !at.After(now) {
				c.deletePod(ctx, pod)
			}
		}
	}
	c.mu.Lock()
	for k := range c.firstSeen {
		if !seen[k] {
			delete(c.firstSeen, k)
		}
	}
	c.mu.Unlock()
}

// noExecute lists the node's NoExecute taints that count in mode, each with
// its timeAdded, or the time this controller first saw it.
func (c *Controller) noExecute(n *corev1.Node, mode Mode, now time.Time, seen map[taintKey]bool) []timedTaint {
	var out []timedTaint
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range n.Spec.Taints {
		if t.Effect != corev1.TaintEffectNoExecute || (mode.disrupted() && owned(t)) {
			continue
		}
		k := taintKey{n.Name, t.Key, string(t.Effect)}
		seen[k] = true
		since, ok := c.firstSeen[k]
		if !ok {
			since = now
			c.firstSeen[k] = now
		}
		if t.TimeAdded != nil {
			since = t.TimeAdded.Time
		}
		out = append(out, timedTaint{taint: t, since: since})
	}
	return out
}

func (c *Controller) deletePod(ctx context.Context, pod *corev1.Pod) {
	uid := pod.UID
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		c.log.Info("evict pod", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		return
	}
	c.log.Info("evicted pod", "pod", pod.Namespace+"/"+pod.Name, "node", pod.Spec.NodeName)
	c.event(pod, corev1.EventTypeNormal, "TaintManagerEviction", fmt.Sprintf("Marking for deletion Pod %s/%s", pod.Namespace, pod.Name))
}
