package deployment

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
)

// rolloutRolling moves pods from the old ReplicaSets to the new one, never
// running more than replicas+maxSurge pods nor fewer than
// replicas-maxUnavailable available ones.
func (c *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	newRS, old, err := c.rolloutSets(ctx, d, rss, true)
	if err != nil {
		return err
	}
	all := withNew(old, newRS)
	scaled, err := c.reconcileNewRS(ctx, d, all, newRS)
	if err != nil {
		return err
	}
	if !scaled {
		scaled, err = c.reconcileOldRSs(ctx, d, newRS, active(old))
		if err != nil {
			return err
		}
	}
	if !scaled && complete(d, &d.Status) {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, d, all, newRS)
}

// reconcileNewRS scales the new ReplicaSet up within the surge budget (or
// down to spec.replicas if it is above).
func (c *Controller) reconcileNewRS(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (bool, error) {
	want := replicasOf(d)
	switch n := rsReplicas(newRS); {
	case n == want:
		return false, nil
	case n > want:
		return c.scaleRS(ctx, d, newRS, want)
	}
	return c.scaleRS(ctx, d, newRS, newRSReplicas(d, all, newRS))
}

// newRSReplicas is the size the new ReplicaSet may have now: for Recreate,
// spec.replicas; for RollingUpdate, as many more pods as the surge budget
// (replicas+maxSurge minus every pod already asked for) allows, up to
// spec.replicas.
func newRSReplicas(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) int32 {
	if !isRolling(d) {
		return replicasOf(d)
	}
	current := rsReplicas(newRS)
	budget := replicasOf(d) + maxSurge(d) - sumSpec(all)
	if budget <= 0 {
		return current
	}
	return current + max(min(budget, replicasOf(d)-current), 0)
}

// reconcileOldRSs scales old ReplicaSets down as far as availability
// allows.
func (c *Controller) reconcileOldRSs(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) (bool, error) {
	plan := oldScaleDown(d, newRS, old)
	scaled := false
	for _, rs := range old {
		n, ok := plan[rs.Name]
		if !ok || n == rsReplicas(rs) {
			continue
		}
		s, err := c.scaleRS(ctx, d, rs, n)
		if err != nil {
			return scaled, err
		}
		scaled = scaled || s
	}
	return scaled, nil
}

// oldScaleDown plans the new sizes of the old ReplicaSets (by name), in two
// steps, oldest sets first:
//
//  1. Remove old pods that are not available, as far as the pods asked for
//     exceed minAvailable plus the new set's not-yet-available pods (so
//     the rollout cannot stall behind broken old pods, and cannot remove
//     the pods the new set still waits for).
//  2. Remove available old pods down to minAvailable available pods in
//     total, counting only pods that will survive their set's size.
func oldScaleDown(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) map[string]int32 {
	if sumSpec(old) == 0 {
		return nil
	}
	sorted := append([]*appsv1.ReplicaSet(nil), old...)
	olderFirst(sorted)
	size := map[string]int32{}
	for _, rs := range sorted {
		size[rs.Name] = rsReplicas(rs)
	}
	minAvailable := replicasOf(d) - maxUnavailable(d)
	var newAvailable int32
	if newRS != nil {
		newAvailable = newRS.Status.AvailableReplicas
	}
	newUnavailable := rsReplicas(newRS) - newAvailable
	budget := sumSpec(old) + rsReplicas(newRS) - minAvailable - newUnavailable
	if budget <= 0 {
		return nil
	}
	var removed int32
	for _, rs := range sorted {
		unhealthy := size[rs.Name] - rs.Status.AvailableReplicas
		if removed >= budget || unhealthy <= 0 {
			continue
		}
		k := min(budget-removed, unhealthy)
		size[rs.Name] -= k
		removed += k
	}
	available := min(newAvailable, rsReplicas(newRS))
	for _, rs := range sorted {
		available += min(rs.Status.AvailableReplicas, size[rs.Name])
	}
	extra := available - minAvailable
	for _, rs := range sorted {
		if extra <= 0 {
			break
		}
		k := min(size[rs.Name], extra)
		size[rs.Name] -= k
		extra -= k
	}
	return size
}
