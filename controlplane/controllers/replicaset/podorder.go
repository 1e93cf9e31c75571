package replicaset

import (
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// deletionCostAnnotation lets users say which pods to remove first when a
// ReplicaSet scales down: lower cost goes first.
const deletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// podsToDelete picks the n pods whose loss hurts least, in the spirit of
// kube-controller-manager: pods that are not scheduled, then not running,
// then not ready, then cheap to delete, then doubled up on a node, then
// ready for less time, then restarting more, then newer. pods is not
// modified.
func podsToDelete(pods []*corev1.Pod, n int, now time.Time) []*corev1.Pod {
	if n >= len(pods) {
		return append([]*corev1.Pod(nil), pods...)
	}
	ranked := rankPods(pods, now)
	sort.SliceStable(ranked, func(i, j int) bool { return ranked[i].before(ranked[j]) })
	out := make([]*corev1.Pod, 0, n)
	for _, r := range ranked[:n] {
		out = append(out, r.pod)
	}
	return out
}

// rankedPod caches what the ordering needs about a pod.
type rankedPod struct {
	pod        *corev1.Pod
	scheduled  bool
	phase      int // pending 0, unknown 1, running 2
	ready      bool
	readyFor   time.Duration
	cost       int64
	colocated  int // other pods of the set on the same node
	restarts   int32
	createdAgo time.Duration
}

func rankPods(pods []*corev1.Pod, now time.Time) []rankedPod {
	perNode := map[string]int{}
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			perNode[p.Spec.NodeName]++
		}
	}
	out := make([]rankedPod, 0, len(pods))
	for _, p := range pods {
		ready, since := podReadySince(p)
		r := rankedPod{
			pod:        p,
			scheduled:  p.Spec.NodeName != "",
			phase:      phaseRank(p.Status.Phase),
			ready:      ready,
			cost:       deletionCost(p),
			restarts:   maxRestarts(p),
			createdAgo: now.Sub(p.CreationTimestamp.Time),
		}
		if ready && !since.IsZero() {
			r.readyFor = now.Sub(since)
		}
		if r.scheduled {
			r.colocated = perNode[p.Spec.NodeName] - 1
		}
		out = append(out, r)
	}
	return out
}

// before reports whether a should be deleted before b.
func (a rankedPod) before(b rankedPod) bool {
	switch {
	case a.scheduled != b.scheduled:
		return !a.scheduled
	case a.phase != b.phase:
		return a.phase < b.phase
	case a.ready != b.ready:
		return !a.ready
	case a.cost != b.cost:
		return a.cost < b.cost
	case a.colocated != b.colocated:
		return a.colocated > b.colocated
	case a.ready && a.readyFor != b.readyFor:
		return a.readyFor < b.readyFor
	case a.restarts != b.restarts:
		return a.restarts > b.restarts
	default:
		return a.createdAgo < b.createdAgo
	}
}

func phaseRank(p corev1.PodPhase) int {
	switch p {
	case corev1.PodPending, "":
		return 0
	case corev1.PodUnknown:
		return 1
	default:
		return 2
	}
}

func deletionCost(p *corev1.Pod) int64 {
	v, ok := p.Annotations[deletionCostAnnotation]
	if !ok {
		return 0
	}
	c, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0 // the API server validates it; an odd value counts as default
	}
	return c
}

func maxRestarts(p *corev1.Pod) int32 {
	var m int32
	for _, s := range p.Status.ContainerStatuses {
		m = max(m, s.RestartCount)
	}
	return m
}
