package scheduler

import (
	"cmp"
	"math"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Preemption is what preempting lower-priority pods would give a pod that
// fits nowhere: the node it would then fit on (its nominated node) and the
// pods to evict there.
type Preemption struct {
	Node    string
	Victims []*v1.Pod
	// PDBViolations is how many victims a PodDisruptionBudget does not
	// allow to go.
	PDBViolations int
}

// podPriority is the pod's priority, as the API server's Priority
// admission set it from its PriorityClass (0 without one).
func podPriority(p *v1.Pod) int32 {
	if p.Spec.Priority != nil {
		return *p.Spec.Priority
	}
	return 0
}

// resolvable are the filters whose rejection evicting pods can lift: the
// node's resources, its host ports, and the anti-affinity of pods on it.
// Any other rejection (taints, node affinity, a cordon, volumes) stays
// whatever runs there, as kube-scheduler's "UnschedulableAndUnresolvable".
func resolvable(reasons []Reason) bool {
	if len(reasons) == 0 {
		return false
	}
	switch reasons[0].Filter {
	case FilterNodeResourcesFit, FilterNodePorts, FilterInterPodAffinity:
		return true
	}
	return false
}

// Preempt finds, for pod which fit no node (fit says why), where evicting
// lower-priority pods would let it fit, as kube-scheduler's DefaultPreemption
// plugin does:
//
//   - a pod whose preemptionPolicy is Never preempts nothing;
//   - on each node rejected for a reason eviction can lift, every pod of
//     lower priority (and not already being deleted) is a possible victim;
//     if the pod fits with all of them gone, they are given back one at a
//     time, most important first (higher priority, then the one that
//     started first), those a PodDisruptionBudget protects before the
//     others, and each one the pod still fits with stays;
//   - the node chosen has the fewest PDB violations, then the lowest
//     highest victim priority, the lowest sum of victim priorities, the
//     fewest victims, and the smallest name.
//
// It is a pure function of its arguments: snap is changed while victims are
// tried and left as it was. ok is false when no eviction helps; why then
// says so in kube-scheduler's words, the part after "preemption: " that it
// adds to the FailedScheduling message ("0/3 nodes are available: 3 No
// preemption victims found for incoming pod.").
func Preempt(pod *v1.Pod, snap *Snapshot, fit *FitError, pdbs []*policyv1.PodDisruptionBudget) (p Preemption, ok bool, why string) {
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy == v1.PreemptNever {
		return Preemption{}, false, "not eligible due to preemptionPolicy=Never."
	}
	if fit == nil {
		return Preemption{}, false, ""
	}
	prio := podPriority(pod)
	var found []Preemption
	failed := &FitError{Pod: fit.Pod, NumNodes: fit.NumNodes, NodeReasons: map[string][]Reason{}}
	for _, name := range sortedNames(fit.NodeReasons) {
		ni := snap.byName[name]
		if !resolvable(fit.NodeReasons[name]) || ni == nil {
			failed.NodeReasons[name] = []Reason{{Message: "Preemption is not helpful for scheduling"}}
			continue
		}
		p, rejected := victimsOn(pod, prio, snap, ni, pdbs)
		if rejected != nil {
			failed.NodeReasons[name] = rejected
			continue
		}
		found = append(found, p)
	}
	if len(found) == 0 {
		if fit.PreFilterMsg != "" { // no node was looked at: each is unhelpful
			for _, name := range sortedNames(snap.byName) {
				failed.NodeReasons[name] = []Reason{{Message: "Preemption is not helpful for scheduling"}}
			}
		}
		return Preemption{}, false, failed.Error()
	}
	return slices.MinFunc(found, comparePreemptions), true, ""
}

// victimsOn finds the fewest, least important pods of ni to evict for pod.
// The snapshot lends them while it tries, and has them all back after.
// rejected, when not nil, says why no eviction on ni helps.
func victimsOn(pod *v1.Pod, prio int32, snap *Snapshot, ni *nodeInfo, pdbs []*policyv1.PodDisruptionBudget) (p Preemption, rejected []Reason) {
	var lower []*v1.Pod
	for _, p := range ni.pods {
		if podPriority(p.pod) < prio && p.pod.DeletionTimestamp == nil && p.key != podKey(pod) {
			lower = append(lower, p.pod)
		}
	}
	if len(lower) == 0 {
		return Preemption{}, []Reason{{Message: "No preemption victims found for incoming pod"}}
	}
	giveBack := func(pods []*v1.Pod) {
		for _, p := range pods {
			_ = snap.AddPod(p) // cannot fail: its node is there
		}
	}
	for _, p := range lower {
		snap.RemovePod(p)
	}
	if r := filterOn(pod, snap, ni); r != nil {
		giveBack(lower)
		return Preemption{}, r
	}
	slices.SortStableFunc(lower, moreImportant)
	violating, sparable := splitByBudgets(lower, pdbs)
	out := Preemption{Node: ni.node.Name}
	for _, group := range [][]*v1.Pod{violating, sparable} {
		for _, p := range group {
			_ = snap.AddPod(p)
			if filterOn(pod, snap, ni) == nil {
				continue // reprieved: it stays
			}
			snap.RemovePod(p)
			out.Victims = append(out.Victims, p)
			if slices.Contains(violating, p) {
				out.PDBViolations++
			}
		}
	}
	giveBack(out.Victims)
	slices.SortStableFunc(out.Victims, moreImportant)
	if len(out.Victims) == 0 {
		return Preemption{}, []Reason{{Message: "No preemption victims found for incoming pod"}}
	}
	return out, nil
}

// filterOn is why pod fails a filter on ni as snap is now; nil: it fits.
func filterOn(pod *v1.Pod, snap *Snapshot, ni *nodeInfo) []Reason {
	c, err := newCandidate(pod, snap)
	if err != nil {
		return []Reason{{Message: err.Error()}}
	}
	return c.filter(ni)
}

// moreImportant orders pods most important first: higher priority, then
// the one that started first (kube-scheduler's MoreImportantPod).
func moreImportant(a, b *v1.Pod) int {
	if c := cmp.Compare(podPriority(b), podPriority(a)); c != 0 {
		return c
	}
	return startTime(a).Time.Compare(startTime(b).Time)
}

func startTime(p *v1.Pod) metav1.Time {
	if p.Status.StartTime != nil {
		return *p.Status.StartTime
	}
	return p.CreationTimestamp
}

// splitByBudgets splits pods into those whose eviction a
// PodDisruptionBudget of their namespace does not allow (its
// disruptionsAllowed used up, each victim using one) and the others.
func splitByBudgets(pods []*v1.Pod, pdbs []*policyv1.PodDisruptionBudget) (violating, sparable []*v1.Pod) {
	allowed := make([]int32, len(pdbs))
	selectors := make([]labels.Selector, len(pdbs))
	for i, pdb := range pdbs {
		allowed[i] = pdb.Status.DisruptionsAllowed
		s, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || s.Empty() {
			s = labels.Nothing() // as kube-scheduler: a bad or empty selector protects nothing
		}
		selectors[i] = s
	}
	for _, p := range pods {
		violates := false
		for i, pdb := range pdbs {
			if pdb.Namespace != p.Namespace || !selectors[i].Matches(labels.Set(p.Labels)) {
				continue
			}
			if _, going := pdb.Status.DisruptedPods[p.Name]; going {
				continue // already counted as disrupted by the budget
			}
			allowed[i]--
			if allowed[i] < 0 {
				violates = true
			}
		}
		if violates {
			violating = append(violating, p)
		} else {
			sparable = append(sparable, p)
		}
	}
	return violating, sparable
}

// comparePreemptions orders the candidate nodes, best first.
func comparePreemptions(a, b Preemption) int {
	if c := cmp.Compare(a.PDBViolations, b.PDBViolations); c != 0 {
		return c
	}
	if c := cmp.Compare(podPriority(a.Victims[0]), podPriority(b.Victims[0])); c != 0 {
		return c // victims are sorted most important first
	}
	if c := cmp.Compare(prioritySum(a.Victims), prioritySum(b.Victims)); c != 0 {
		return c
	}
	if c := cmp.Compare(len(a.Victims), len(b.Victims)); c != 0 {
		return c
	}
	return strings.Compare(a.Node, b.Node)
}

// prioritySum adds the victims' priorities, each shifted to be positive so
// that more victims never weigh less.
func prioritySum(pods []*v1.Pod) int64 {
	var sum int64
	for _, p := range pods {
		sum += int64(podPriority(p)) + math.MaxInt32 + 1
	}
	return sum
}
