package deployment

import (
	"math"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Pure helpers over deployments and their ReplicaSets. A nil *ReplicaSet
// (no new ReplicaSet yet) counts as zero everywhere.

func replicasOf(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func rsReplicas(rs *appsv1.ReplicaSet) int32 {
	if rs == nil || rs.Spec.Replicas == nil {
		return 0
	}
	return *rs.Spec.Replicas
}

// sum adds f over the ReplicaSets, counting a nil one as zero.
func sum(rss []*appsv1.ReplicaSet, f func(*appsv1.ReplicaSet) int32) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += f(rs)
		}
	}
	return n
}

// sumSpec adds spec.replicas: the pods the ReplicaSets are asked for.
func sumSpec(rss []*appsv1.ReplicaSet) int32 { return sum(rss, rsReplicas) }

// sumStatus adds status.replicas: the active pods that exist.
func sumStatus(rss []*appsv1.ReplicaSet) int32 {
	return sum(rss, func(rs *appsv1.ReplicaSet) int32 { return rs.Status.Replicas })
}

func sumReady(rss []*appsv1.ReplicaSet) int32 {
	return sum(rss, func(rs *appsv1.ReplicaSet) int32 { return rs.Status.ReadyReplicas })
}

func sumAvailable(rss []*appsv1.ReplicaSet) int32 {
	return sum(rss, func(rs *appsv1.ReplicaSet) int32 { return rs.Status.AvailableReplicas })
}

// sumStayingAvailable counts the available pods that will survive the
// current spec.replicas of each set: a ReplicaSet scaled below its
// available count will delete some of them.
func sumStayingAvailable(rss []*appsv1.ReplicaSet) int32 {
	return sum(rss, func(rs *appsv1.ReplicaSet) int32 { return min(rs.Status.AvailableReplicas, rsReplicas(rs)) })
}

// active keeps the ReplicaSets asked for at least one pod.
func active(rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if rsReplicas(rs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// withNew appends newRS to old unless it is nil.
func withNew(old []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	all := append([]*appsv1.ReplicaSet(nil), old...)
	if newRS != nil {
		all = append(all, newRS)
	}
	return all
}

func isRolling(d *appsv1.Deployment) bool {
	return d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType
}

// fenceposts resolves maxSurge (rounded up) and maxUnavailable (rounded
// down) against spec.replicas. Both zero would deadlock a rollout, so
// maxUnavailable becomes 1 then, as in Kubernetes.
func fenceposts(d *appsv1.Deployment) (surge, unavailable int32) {
	var ms, mu *intstr.IntOrString
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		ms, mu = ru.MaxSurge, ru.MaxUnavailable
	}
	def := intstr.FromString("25%")
	desired := int(replicasOf(d))
	s, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(ms, def), desired, true)
	if err != nil {
		s = 0 // the API server validates these; a bad value must not panic
	}
	u, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(mu, def), desired, false)
	if err != nil {
		u = 0
	}
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(u)
}

// maxSurge is how many pods above spec.replicas a rollout may run.
func maxSurge(d *appsv1.Deployment) int32 {
	if !isRolling(d) {
		return 0
	}
	s, _ := fenceposts(d)
	return s
}

// maxUnavailable is how many of spec.replicas may be unavailable while the
// deployment still counts as available.
func maxUnavailable(d *appsv1.Deployment) int32 {
	if !isRolling(d) || replicasOf(d) == 0 {
		return 0
	}
	_, u := fenceposts(d)
	return min(u, replicasOf(d))
}

func hasProgressDeadline(d *appsv1.Deployment) bool {
	return d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds != math.MaxInt32
}

// olderFirst orders by creation time, then name, so ties are stable.
func olderFirst(rss []*appsv1.ReplicaSet) {
	sort.SliceStable(rss, func(i, j int) bool { return older(rss[i], rss[j]) })
}

func older(a, b *appsv1.ReplicaSet) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// largerFirst orders by spec.replicas, larger first; ties go to the newer
// set when newerWins, else to the older.
func largerFirst(rss []*appsv1.ReplicaSet, newerWins bool) {
	sort.SliceStable(rss, func(i, j int) bool {
		if a, b := rsReplicas(rss[i]), rsReplicas(rss[j]); a != b {
			return a > b
		}
		if newerWins {
			return older(rss[j], rss[i])
		}
		return older(rss[i], rss[j])
	})
}
