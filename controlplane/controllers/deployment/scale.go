package deployment

import (
	"context"
	"math"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// scaleRS sets rs's spec.replicas to n and its replicas annotations to the
// deployment's current size, emitting ScalingReplicaSet when the size
// changes. It reports whether the size changed.
func (c *Controller) scaleRS(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, n int32) (bool, error) {
	from := rsReplicas(rs)
	sizeChanged := from != n
	maxTotal := replicasOf(d) + maxSurge(d)
	if !sizeChanged && !replicasAnnotationsNeedUpdate(rs, replicasOf(d), maxTotal) {
		return false, nil
	}
	cp := rs.DeepCopy()
	cp.Spec.Replicas = &n
	setReplicasAnnotations(cp, replicasOf(d), maxTotal)
	if err := c.writeRS(ctx, cp); err != nil {
		return false, err
	}
	*rs = *cp
	if sizeChanged {
		dir := "up"
		if n < from {
			dir = "down"
		}
		c.rec.Eventf(d, rs, corev1.EventTypeNormal, reasonScalingRS, "Scaling",
			"Scaled %s replica set %s from %d to %d", dir, rs.Name, from, n)
	}
	return sizeChanged, nil
}

// isScalingEvent reports whether spec.replicas changed since the active
// ReplicaSets were last sized (their desired-replicas annotation).
func isScalingEvent(d *appsv1.Deployment, all []*appsv1.ReplicaSet) bool {
	for _, rs := range active(all) {
		if want, ok := intAnnotation(rs, DesiredReplicasAnnotation); ok && want != replicasOf(d) {
			return true
		}
	}
	return false
}

// syncScale applies a change of spec.replicas (or keeps sizes while
// paused) without moving the rollout, then writes the status.
func (c *Controller) syncScale(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	newRS, old, err := c.rolloutSets(ctx, d, rss, false)
	if err != nil {
		return err
	}
	if err := c.scale(ctx, d, newRS, old); err != nil {
		return err
	}
	if d.Spec.Paused {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncStatus(ctx, d, withNew(old, newRS), newRS)
}

// scale resizes the ReplicaSets after spec.replicas changed. With one
// active set (or none), that set takes the whole size. With a saturated
// new set, old ones go to zero. During a rolling update, the difference is
// shared in proportion to each set's size (see proportionalSizes).
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) error {
	if rs := activeOrLatest(newRS, old); rs != nil {
		_, err := c.scaleRS(ctx, d, rs, replicasOf(d))
		return err
	}
	if saturated(d, newRS) {
		for _, rs := range active(old) {
			if _, err := c.scaleRS(ctx, d, rs, 0); err != nil {
				return err
			}
		}
		return nil
	}
	if !isRolling(d) {
		return nil // Recreate finishes scaling down before it scales up
	}
	sets := active(withNew(old, newRS))
	sizes := proportionalSizes(d, sets)
	for _, rs := range sets {
		if _, err := c.scaleRS(ctx, d, rs, sizes[rs.Name]); err != nil {
			return err
		}
	}
	return nil
}

// activeOrLatest returns the only active ReplicaSet, or, when none is
// active, the new one or else the newest old one; nil when several are
// active.
func activeOrLatest(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	all := active(withNew(old, newRS))
	switch len(all) {
	case 1:
		return all[0]
	case 0:
		if newRS != nil {
			return newRS
		}
		if len(old) == 0 {
			return nil
		}
		sorted := append([]*appsv1.ReplicaSet(nil), old...)
		olderFirst(sorted)
		return sorted[len(sorted)-1]
	}
	return nil
}

// saturated reports whether the new ReplicaSet runs the whole deployment.
func saturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	want, ok := intAnnotation(rs, DesiredReplicasAnnotation)
	return ok && want == replicasOf(d) && rsReplicas(rs) == replicasOf(d) &&
		rs.Status.AvailableReplicas == replicasOf(d)
}

// proportionalSizes shares a change of the deployment's allowed size
// (replicas+maxSurge) among the active sets in proportion to their share
// of the previous allowed size (their max-replicas annotation). Rounding
// leftovers go to the largest set; nothing goes below zero.
func proportionalSizes(d *appsv1.Deployment, sets []*appsv1.ReplicaSet) map[string]int32 {
	sorted := append([]*appsv1.ReplicaSet(nil), sets...)
	var allowed int32
	if replicasOf(d) > 0 {
		allowed = replicasOf(d) + maxSurge(d)
	}
	toAdd := allowed - sumSpec(sorted)
	largerFirst(sorted, toAdd > 0)
	sizes := map[string]int32{}
	var added int32
	for _, rs := range sorted {
		share := proportion(d, rs, toAdd, added)
		sizes[rs.Name] = rsReplicas(rs) + share
		added += share
	}
	if len(sorted) > 0 && toAdd != 0 {
		first := sorted[0].Name
		sizes[first] = max(sizes[first]+toAdd-added, 0)
	}
	return sizes
}

// proportion is rs's part of toAdd, bounded by what is left to add.
func proportion(d *appsv1.Deployment, rs *appsv1.ReplicaSet, toAdd, added int32) int32 {
	if rsReplicas(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	left := toAdd - added
	f := fraction(d, rs)
	if toAdd > 0 {
		return min(f, left)
	}
	return max(f, left)
}

// fraction is how much rs should grow (or shrink) to keep its share of
// the deployment's allowed size.
func fraction(d *appsv1.Deployment, rs *appsv1.ReplicaSet) int32 {
	if replicasOf(d) == 0 {
		return -rsReplicas(rs)
	}
	allowed := replicasOf(d) + maxSurge(d)
	before, ok := intAnnotation(rs, MaxReplicasAnnotation)
	if !ok || before == 0 {
		before = d.Status.Replicas
		if before == 0 {
			return 0
		}
	}
	size := float64(rsReplicas(rs)) * float64(allowed) / float64(before)
	return int32(math.Round(size)) - rsReplicas(rs)
}
