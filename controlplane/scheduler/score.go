package scheduler

import (
	"math"

	v1 "k8s.io/api/core/v1"
	v1helper "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// MaxScore is the best score of one scorer, after normalisation.
const MaxScore = 100

// Weights of the scorers in a node's total. They are kube-scheduler's
// default plugin weights: taints first, then the placement preferences the
// user wrote, then resource usage.
const (
	WeightLeastAllocated     = 1 // NodeResourcesFit, LeastAllocated strategy
	WeightBalancedAllocation = 1 // NodeResourcesBalancedAllocation
	WeightOwnerSpread        = 2 // PodTopologySpread's default hostname spreading
	WeightNodeAffinity       = 2 // NodeAffinity, preferred terms
	WeightPodAffinity        = 2 // InterPodAffinity, preferred terms
	WeightTaintToleration    = 3 // TaintToleration, PreferNoSchedule taints
)

// Scores are the normalised scores (0..MaxScore) of one node, and their
// weighted sum.
type Scores struct {
	LeastAllocated     int64
	BalancedAllocation int64
	OwnerSpread        int64
	NodeAffinity       int64
	PodAffinity        int64
	TaintToleration    int64
	Total              int64
}

func (s *Scores) total() {
	s.Total = WeightLeastAllocated*s.LeastAllocated +
		WeightBalancedAllocation*s.BalancedAllocation +
		WeightOwnerSpread*s.OwnerSpread +
		WeightNodeAffinity*s.NodeAffinity +
		WeightPodAffinity*s.PodAffinity +
		WeightTaintToleration*s.TaintToleration
}

// score scores the feasible nodes; out[i] belongs to nodes[i]. Scores that
// compare nodes with each other (spreading, affinities, taints) are
// normalised over the feasible nodes only, as kube-scheduler does.
func (c *candidate) score(nodes []*nodeInfo) []Scores {
	n := len(nodes)
	out := make([]Scores, n)
	spread, nodeAff, podAff, taints := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	prefs := preferredNodeTerms(c.pod)
	for i, ni := range nodes {
		out[i].LeastAllocated = c.leastAllocated(ni)
		out[i].BalancedAllocation = c.balancedAllocation(ni)
		spread[i] = int64(ni.owners[c.owner])
		if prefs != nil {
			nodeAff[i] = prefs.Score(ni.node)
		}
		podAff[i] = c.state.preferredScore(ni.node)
		taints[i] = c.intolerablePreferNoSchedule(ni.node)
	}
	fewerIsBetter(spread, c.owner != "")
	moreIsBetter(nodeAff)
	minMax(podAff)
	fewerIsBetter(taints, true)
	for i := range out {
		out[i].OwnerSpread, out[i].NodeAffinity = spread[i], nodeAff[i]
		out[i].PodAffinity, out[i].TaintToleration = podAff[i], taints[i]
		out[i].total()
	}
	return out
}

// leastAllocated favours the node with the most free cpu and memory once
// the pod is on it, both resources weighing the same. Pods without
// requests count the scoring defaults.
func (c *candidate) leastAllocated(ni *nodeInfo) int64 {
	var sum, n int64
	for _, r := range [][2]int64{
		{ni.non0CPU + c.requests.non0CPU, ni.allocatable.milliCPU},
		{ni.non0Mem + c.requests.non0Mem, ni.allocatable.memory},
	} {
		requested, capacity := r[0], r[1]
		if capacity == 0 {
			continue
		}
		n++
		if requested <= capacity {
			sum += (capacity - requested) * MaxScore / capacity
		}
	}
	if n == 0 {
		return 0
	}
	return sum / n
}

// balancedAllocation favours nodes whose cpu and memory usage stay close to
// each other, judged on how much placing the pod improves the balance: 75
// for no change, towards 100 when it improves, towards 50 when it worsens.
// A pod requesting neither resource changes nothing and scores 0 on every
// node.
func (c *candidate) balancedAllocation(ni *nodeInfo) int64 {
	req := c.requests.req
	if req.milliCPU == 0 && req.memory == 0 {
		return 0
	}
	before := balance(ni.requested.milliCPU, ni.requested.memory, ni.allocatable)
	after := balance(ni.requested.milliCPU+req.milliCPU, ni.requested.memory+req.memory, ni.allocatable)
	return MaxScore/2 + (MaxScore/2+after-before)/2
}

// balance scores 0..MaxScore how close the cpu and memory fractions are.
func balance(cpu, mem int64, alloc resources) int64 {
	if alloc.milliCPU == 0 || alloc.memory == 0 {
		return MaxScore
	}
	fc := math.Min(1, float64(cpu)/float64(alloc.milliCPU))
	fm := math.Min(1, float64(mem)/float64(alloc.memory))
	std := math.Abs(fc-fm) / 2
	return int64((1 - std) * MaxScore)
}

func preferredNodeTerms(pod *v1.Pod) *nodeaffinity.PreferredSchedulingTerms {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		return nil
	}
	// Terms are validated by the API server; unparsable ones score nothing.
	terms, err := nodeaffinity.NewPreferredSchedulingTerms(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	if err != nil {
		return nil
	}
	return terms
}

// intolerablePreferNoSchedule counts the node's PreferNoSchedule taints
// that no toleration of the pod (with effect PreferNoSchedule or empty)
// tolerates.
func (c *candidate) intolerablePreferNoSchedule(n *v1.Node) int64 {
	var count int64
	for i := range n.Spec.Taints {
		t := &n.Spec.Taints[i]
		if t.Effect != v1.TaintEffectPreferNoSchedule {
			continue
		}
		if !v1helper.TolerationsTolerateTaint(discard, c.softTolerations, t, false) {
			count++
		}
	}
	return count
}

func softTolerations(pod *v1.Pod) []v1.Toleration {
	var out []v1.Toleration
	for _, t := range pod.Spec.Tolerations {
		if t.Effect == "" || t.Effect == v1.TaintEffectPreferNoSchedule {
			out = append(out, t)
		}
	}
	return out
}

// fewerIsBetter maps counts to MaxScore for the fewest, down to 0 for the
// most, in place: MaxScore*(max-count)/max. All nodes score MaxScore when
// no node has any. When active is false every node scores 0.
func fewerIsBetter(v []int64, active bool) {
	hi := maxOf(v)
	for i := range v {
		switch {
		case !active:
			v[i] = 0
		case hi == 0:
			v[i] = MaxScore
		default:
			v[i] = MaxScore * (hi - v[i]) / hi
		}
	}
}

// moreIsBetter scales non-negative values so the largest gets MaxScore.
func moreIsBetter(v []int64) {
	hi := maxOf(v)
	for i := range v {
		if hi > 0 {
			v[i] = MaxScore * v[i] / hi
		}
	}
}

// minMax scales values that may be negative onto 0..MaxScore; all equal
// values score 0.
func minMax(v []int64) {
	if len(v) == 0 {
		return
	}
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	for i := range v {
		if hi > lo {
			v[i] = MaxScore * (v[i] - lo) / (hi - lo)
		} else {
			v[i] = 0
		}
	}
}

func maxOf(v []int64) int64 {
	var hi int64
	for _, x := range v {
		hi = max(hi, x)
	}
	return hi
}
