package deployment

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// rolloutRecreate scales every old ReplicaSet to zero, waits until none of
// their pods runs any more, then brings the new ReplicaSet to full size.
func (c *Controller) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet, pods map[types.UID][]*corev1.Pod) error {
	newRS, old, err := c.rolloutSets(ctx, d, rss, false)
	if err != nil {
		return err
	}
	scaled := false
	for _, rs := range active(old) {
		s, err := c.scaleRS(ctx, d, rs, 0)
		if err != nil {
			return err
		}
		scaled = scaled || s
	}
	if scaled || oldPodsRunning(newRS, old, pods) {
		return c.syncRolloutStatus(ctx, d, withNew(old, newRS), newRS)
	}
	if newRS == nil {
		if newRS, old, err = c.rolloutSets(ctx, d, rss, true); err != nil {
			return err
		}
	}
	if _, err := c.scaleRS(ctx, d, newRS, replicasOf(d)); err != nil {
		return err
	}
	if complete(d, &d.Status) {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, d, withNew(old, newRS), newRS)
}

// oldPodsRunning reports whether an old ReplicaSet still has a pod that
// may be running: counted in its status, or any pod not finished,
// terminating ones included (Recreate promises old and new never overlap).
func oldPodsRunning(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet, pods map[types.UID][]*corev1.Pod) bool {
	if sumStatus(old) > 0 {
		return true
	}
	for uid, ps := range pods {
		if newRS != nil && uid == newRS.UID {
			continue
		}
		for _, p := range ps {
			if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				return true
			}
		}
	}
	return false
}
