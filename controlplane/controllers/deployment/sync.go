package deployment

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// sync moves one deployment a step toward its spec. It is level-based: it
// reads the listers, works on private copies, and every step it takes is
// safe to repeat; ReplicaSet and pod events call it again for the next
// step.
func (c *Controller) sync(ctx context.Context, k string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return nil // not a key we made; retrying cannot help
	}
	cached, err := c.dLister.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil // its ReplicaSets are garbage-collected through owner references
	}
	if err != nil {
		return fmt.Errorf("get deployment %s: %w", k, err)
	}
	d := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		c.log.Error("skip deployment with invalid selector", "deployment", k, "err", err)
		return nil
	}
	if sel.Empty() {
		return c.refuseEmptySelector(ctx, d)
	}
	rss, err := c.replicaSetsFor(ctx, d, sel)
	if err != nil {
		return err
	}
	if d.DeletionTimestamp != nil {
		newRS, old, err := c.rolloutSets(ctx, d, rss, false)
		if err != nil {
			return err
		}
		return c.syncStatus(ctx, d, withNew(old, newRS), newRS)
	}
	if err := c.checkPausedConditions(ctx, d); err != nil {
		return err
	}
	if d.Spec.Paused {
		return c.syncScale(ctx, d, rss)
	}
	newRS, old, err := c.rolloutSets(ctx, d, rss, false)
	if err != nil {
		return err
	}
	if isScalingEvent(d, withNew(old, newRS)) {
		return c.syncScale(ctx, d, rss)
	}
	if !isRolling(d) {
		pods, err := c.podsBySet(d, sel, rss)
		if err != nil {
			return err
		}
		return c.rolloutRecreate(ctx, d, rss, pods)
	}
	return c.rolloutRolling(ctx, d, rss)
}

// refuseEmptySelector: a deployment selecting every pod would fight every
// other controller, so it is only reported, never rolled out.
func (c *Controller) refuseEmptySelector(ctx context.Context, d *appsv1.Deployment) error {
	c.rec.Eventf(d, nil, corev1.EventTypeWarning, reasonSelectingAll, "Sync",
		"This deployment is selecting all pods. A non-empty selector is required.")
	if d.Status.ObservedGeneration >= d.Generation {
		return nil
	}
	d.Status.ObservedGeneration = d.Generation
	return c.writeStatus(ctx, d)
}

// podsBySet lists d's pods grouped by the UID of the ReplicaSet (among
// rss) controlling them.
func (c *Controller) podsBySet(d *appsv1.Deployment, sel labels.Selector, rss []*appsv1.ReplicaSet) (map[types.UID][]*corev1.Pod, error) {
	pods, err := c.podLister.Pods(d.Namespace).List(sel)
	if err != nil {
		return nil, fmt.Errorf("list pods of deployment %s: %w", key(d), err)
	}
	out := map[types.UID][]*corev1.Pod{}
	for _, rs := range rss {
		out[rs.UID] = nil
	}
	for _, p := range pods {
		ref := metav1.GetControllerOf(p)
		if ref == nil {
			continue
		}
		if _, ours := out[ref.UID]; ours {
			out[ref.UID] = append(out[ref.UID], p)
		}
	}
	return out, nil
}
