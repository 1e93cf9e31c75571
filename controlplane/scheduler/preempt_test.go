package scheduler

import (
	"errors"
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func priority(p int32) podOpt { return func(pod *v1.Pod) { pod.Spec.Priority = &p } }

func startedAt(sec int64) podOpt {
	return func(pod *v1.Pod) { t := metav1.Unix(sec, 0); pod.Status.StartTime = &t }
}

func neverPreempt() podOpt {
	return func(pod *v1.Pod) { never := v1.PreemptNever; pod.Spec.PreemptionPolicy = &never }
}

// preemptFor schedules pod on snap, which must fail, and returns what
// preemption finds.
func preemptFor(t *testing.T, pod *v1.Pod, snap *Snapshot, pdbs ...*policyv1.PodDisruptionBudget) (Preemption, bool) {
	t.Helper()
	_, err := Schedule(pod, snap)
	var fit *FitError
	if !errors.As(err, &fit) {
		t.Fatalf("Schedule(%s) = %v, want a FitError", pod.Name, err)
	}
	p, ok, _ := Preempt(pod, snap, fit, pdbs)
	return p, ok
}

// preemptionMessage is the FailedScheduling message of pod on snap, once
// preemption has failed, as the scheduler writes it.
func preemptionMessage(t *testing.T, pod *v1.Pod, snap *Snapshot) string {
	t.Helper()
	_, err := Schedule(pod, snap)
	var fit *FitError
	if !errors.As(err, &fit) {
		t.Fatalf("Schedule(%s) = %v, want a FitError", pod.Name, err)
	}
	_, ok, why := Preempt(pod, snap, fit, nil)
	if ok {
		t.Fatalf("preemption helped %s", pod.Name)
	}
	fit.PostFilterMsg = "preemption: " + why
	return fit.Error()
}

// When preemption cannot help, the message says why after the filters'
// reasons, in kube-scheduler's words: no victims, victims that would not be
// enough, a node preemption cannot change, a pod that may not preempt.
func TestPreemptionMessages(t *testing.T) {
	tainted := node("n3", "4", "4Gi", 10)
	tainted.Spec.Taints = []v1.Taint{{Key: "k", Value: "v", Effect: v1.TaintEffectNoSchedule}}
	snap := NewSnapshot(
		[]*v1.Node{node("n1", "4", "4Gi", 10), node("n2", "4", "4Gi", 10), tainted},
		[]*v1.Pod{pod("same", "3", "", on("n1"), priority(100)), pod("low", "1", "", on("n2"), priority(1)), pod("big", "2", "", on("n2"), priority(100))})
	for _, tc := range []struct {
		name string
		pod  *v1.Pod
		want string
	}{
		{"too big anywhere", pod("huge", "3", "", priority(100)),
			"0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu. " +
				"preemption: 0/3 nodes are available: 1 Insufficient cpu, 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."},
		{"policy Never", pod("polite", "3", "", priority(1000), neverPreempt()),
			"0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."},
	} {
		if got := preemptionMessage(t, tc.pod, snap); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func names(pods []*v1.Pod) []string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = p.Name
	}
	return out
}

// The conformance test's layout: two nodes full of a low and medium pods;
// a high-priority pod evicts only the low one.
func TestPreemptBasic(t *testing.T) {
	snap := NewSnapshot(
		[]*v1.Node{node("n1", "4", "4Gi", 10), node("n2", "4", "4Gi", 10)},
		[]*v1.Pod{
			pod("low", "2", "", on("n1"), priority(1)), pod("mid-1", "2", "", on("n1"), priority(100)),
			pod("mid-2", "2", "", on("n2"), priority(100)), pod("mid-3", "2", "", on("n2"), priority(100)),
		})
	before := names(snap.PodsOn("n1"))
	pre, ok := preemptFor(t, pod("high", "2", "", priority(1000)), snap)
	if !ok || pre.Node != "n1" || !slices.Equal(names(pre.Victims), []string{"low"}) {
		t.Fatalf("preemption = %+v (%v), want low evicted on n1", pre, ok)
	}
	after := names(snap.PodsOn("n1"))
	slices.Sort(before)
	slices.Sort(after)
	if !slices.Equal(before, after) {
		t.Errorf("snapshot changed: %v -> %v", before, after)
	}
	if _, ok := preemptFor(t, pod("mid", "2", "", priority(100)), snap); !ok {
		t.Error("a medium pod may evict the low one too")
	}
	if _, ok := preemptFor(t, pod("low-2", "2", "", priority(1)), snap); ok {
		t.Error("a pod evicted a pod of its own priority")
	}
	if _, ok := preemptFor(t, pod("polite", "2", "", priority(1000), neverPreempt()), snap); ok {
		t.Error("preemptionPolicy Never preempted")
	}
}

// Only the pods needed go, the least important first: the lowest priority,
// then the one started last.
func TestPreemptReprieve(t *testing.T) {
	snap := NewSnapshot(
		[]*v1.Node{node("n1", "3", "4Gi", 10)},
		[]*v1.Pod{
			pod("old", "1", "", on("n1"), priority(5), startedAt(100)),
			pod("new", "1", "", on("n1"), priority(5), startedAt(200)),
			pod("least", "1", "", on("n1"), priority(1), startedAt(50)),
		})
	pre, ok := preemptFor(t, pod("one", "1", "", priority(10)), snap)
	if !ok || !slices.Equal(names(pre.Victims), []string{"least"}) {
		t.Fatalf("victims %v (%v), want [least]", names(pre.Victims), ok)
	}
	pre, ok = preemptFor(t, pod("two", "2", "", priority(10)), snap)
	if !ok || !slices.Equal(names(pre.Victims), []string{"new", "least"}) {
		t.Fatalf("victims %v (%v), want [new least]", names(pre.Victims), ok)
	}
}

// A node whose rejection no eviction lifts (a taint, node affinity) is not
// a candidate; a pod already being deleted is not evicted again.
func TestPreemptUnresolvable(t *testing.T) {
	snap := NewSnapshot(
		[]*v1.Node{node("tainted", "1", "4Gi", 10, withTaint("k", "v", v1.TaintEffectNoSchedule)), node("full", "1", "4Gi", 10)},
		[]*v1.Pod{
			pod("a", "1", "", on("tainted"), priority(1)),
			pod("b", "1", "", on("full"), priority(1), deleting()),
		})
	if pre, ok := preemptFor(t, pod("high", "1", "", priority(10)), snap); ok {
		t.Errorf("preempted %+v", pre)
	}
}

// The node whose victims a PodDisruptionBudget protects loses to one
// whose victims it does not, even with more important victims there.
func TestPreemptBudgets(t *testing.T) {
	snap := NewSnapshot(
		[]*v1.Node{node("n1", "1", "4Gi", 10), node("n2", "1", "4Gi", 10)},
		[]*v1.Pod{
			pod("guarded", "1", "", on("n1"), priority(1), labelled("app", "db")),
			pod("free", "1", "", on("n2"), priority(5)),
		})
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
		Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
		Status:     policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 0},
	}
	pre, ok := preemptFor(t, pod("high", "1", "", priority(10)), snap, pdb)
	if !ok || pre.Node != "n2" || pre.PDBViolations != 0 {
		t.Fatalf("preemption %+v (%v), want n2 without violations", pre, ok)
	}
	pdb.Status.DisruptionsAllowed = 1
	pre, ok = preemptFor(t, pod("high", "1", "", priority(10)), snap, pdb)
	if !ok || pre.Node != "n1" {
		t.Fatalf("preemption %+v (%v), want n1 (lowest victim priority) once the budget allows it", pre, ok)
	}
}

// A nominated pod holds its room against pods of lower priority, not
// against higher ones; a pod waiting on its victims does not preempt again.
func TestCacheNominations(t *testing.T) {
	c := newClusterCache()
	c.setNode(node("n1", "2", "4Gi", 10))
	victim := pod("victim", "2", "", on("n1"), priority(1), deleting())
	c.setPod(victim)
	high := pod("high", "2", "", priority(100))
	c.nominate(high, "n1")
	if _, ok, why := c.preempt(high, &FitError{NodeReasons: map[string][]Reason{"n1": {{Filter: FilterNodeResourcesFit}}}}, nil); ok ||
		why != "not eligible due to a terminating pod on the nominated node." {
		t.Errorf("preempted again while its victim is on its way out (why: %q)", why)
	}
	c.removePod(victim)
	if _, _, err := c.schedule(pod("low", "1", "", priority(1)), PodVolumes{}); err == nil {
		t.Error("a lower pod took the nominated pod's room")
	}
	if d, _, err := c.schedule(pod("higher", "1", "", priority(1000)), PodVolumes{}); err != nil || d.Node != "n1" {
		t.Errorf("a higher pod was kept off: %v", err)
	}
	c.denominate(podKey(high))
	if _, _, err := c.schedule(pod("low-2", "1", "", priority(1)), PodVolumes{}); err != nil {
		t.Errorf("after the nomination ended: %v", err)
	}
}
