package scheduler

import (
	"fmt"
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestScoreDecides(t *testing.T) {
	web := func(name string, opts ...podOpt) *v1.Pod {
		return pod(name, "", "", append([]podOpt{labelled("app", "web")}, opts...)...)
	}
	runFilterCases(t, []filterCase{
		{
			name:  "equal nodes: ties go to the smallest name",
			nodes: nodes3(),
			pod:   pod("p", "100m", "100Mi"),
			want:  "node-1",
		},
		{
			name:  "least allocated: the emptier node",
			nodes: nodes3(),
			pods:  []*v1.Pod{pod("a", "2", "1Gi", on("node-1")), pod("b", "1", "1Gi", on("node-2")), pod("c", "2", "1Gi", on("node-3"))},
			pod:   pod("p", "100m", "100Mi"),
			want:  "node-2",
		},
		{
			name:  "least allocated counts pods without requests",
			nodes: nodes3(),
			pods:  []*v1.Pod{pod("a", "", "", on("node-1")), pod("b", "", "", on("node-2"))},
			pod:   pod("p", "", ""),
			want:  "node-3",
		},
		{
			name:  "preferred node affinity",
			nodes: nodes3(withLabel("disk", "hdd")),
			pod:   pod("p", "", "", preferredNode(10, nameTerm("node-2"))),
			want:  "node-2",
		},
		{
			name:  "preferred node affinity: the heavier term wins",
			nodes: nodes3(),
			pod:   pod("p", "", "", preferredNode(10, nameTerm("node-1")), preferredNode(60, nameTerm("node-3"))),
			want:  "node-3",
		},
		{
			name:  "preferred node affinity beats a little load",
			nodes: nodes3(),
			pods:  []*v1.Pod{pod("a", "1", "1Gi", on("node-3"))},
			pod:   pod("p", "", "", preferredNode(100, labelTerm(v1.LabelHostname, v1.NodeSelectorOpIn, "node-3"))),
			want:  "node-3",
		},
		{
			name:  "preferred pod affinity joins the matching pod",
			nodes: nodes3(),
			pods:  []*v1.Pod{pod("cache", "", "", on("node-3"), labelled("app", "cache"))},
			pod:   pod("p", "", "", preferredPodAffinity(50, hostTerm("app", "cache"))),
			want:  "node-3",
		},
		{
			name:  "preferred pod anti-affinity avoids the matching pod despite load elsewhere",
			nodes: nodes3(),
			pods:  []*v1.Pod{web("a", on("node-1")), pod("b", "1", "1Gi", on("node-2")), pod("c", "1", "1Gi", on("node-3"))},
			pod:   web("p", preferredPodAntiAffinity(100, hostTerm("app", "web"))),
			want:  "node-2",
		},
		{
			name:  "existing pod's preferred affinity attracts the incoming pod",
			nodes: nodes3(),
			pods:  []*v1.Pod{pod("a", "", "", on("node-3"), preferredPodAffinity(100, hostTerm("app", "web")))},
			pod:   web("p"),
			want:  "node-3",
		},
		{
			name:  "existing pod's preferred anti-affinity repels the incoming pod",
			nodes: nodes3()[:2],
			pods:  []*v1.Pod{pod("a", "", "", on("node-1"), preferredPodAntiAffinity(100, hostTerm("app", "web")))},
			pod:   web("p"),
			want:  "node-2",
		},
		{
			name: "PreferNoSchedule taints push away",
			nodes: []*v1.Node{
				node("node-1", "4", "8Gi", 110, withTaint("a", "", v1.TaintEffectPreferNoSchedule)),
				node("node-2", "4", "8Gi", 110, withTaint("b", "", v1.TaintEffectPreferNoSchedule)),
				node("node-3", "4", "8Gi", 110),
			},
			pod:  pod("p", "", ""),
			want: "node-3",
		},
		{
			name: "a tolerated PreferNoSchedule taint does not",
			nodes: []*v1.Node{
				node("node-1", "4", "8Gi", 110, withTaint("a", "", v1.TaintEffectPreferNoSchedule)),
				node("node-2", "4", "8Gi", 110, withTaint("b", "", v1.TaintEffectPreferNoSchedule)),
				node("node-3", "4", "8Gi", 110),
			},
			pod:  pod("p", "", "", tolerate("a", v1.TolerationOpExists, "", v1.TaintEffectPreferNoSchedule)),
			want: "node-1",
		},
		{
			name: "a NoSchedule toleration does not cover PreferNoSchedule",
			nodes: []*v1.Node{
				node("node-1", "4", "8Gi", 110, withTaint("a", "", v1.TaintEffectPreferNoSchedule)),
				node("node-2", "4", "8Gi", 110),
			},
			pod:  pod("p", "", "", tolerate("a", v1.TolerationOpExists, "", v1.TaintEffectNoSchedule)),
			want: "node-2",
		},
		{
			name:  "replicas spread even when the name tie-break says otherwise",
			nodes: nodes3()[:2],
			// Same load on both nodes; only node-1 already has a replica.
			pods: []*v1.Pod{pod("web-1", "500m", "512Mi", on("node-1"), ownedBy("ReplicaSet", "web")), pod("other", "500m", "512Mi", on("node-2"))},
			pod:  pod("web-2", "500m", "512Mi", ownedBy("ReplicaSet", "web")),
			want: "node-2",
		},
		{
			name:  "a deleting replica does not count for spreading",
			nodes: nodes3()[:2],
			pods: []*v1.Pod{
				pod("web-1", "500m", "512Mi", on("node-1"), ownedBy("ReplicaSet", "web"), deleting()),
				pod("other", "500m", "512Mi", on("node-2"), ownedBy("ReplicaSet", "other")),
			},
			pod:  pod("web-2", "500m", "512Mi", ownedBy("ReplicaSet", "web")),
			want: "node-1",
		},
	})
}

func TestBalancedAllocation(t *testing.T) {
	// The incoming pod is cpu-heavy: it balances the memory-heavy node-1 and
	// unbalances the cpu-heavy node-2.
	snap := NewSnapshot(nodes3()[:2], []*v1.Pod{pod("a", "1", "6Gi", on("node-1")), pod("b", "2", "1Gi", on("node-2"))})
	d, err := Schedule(pod("p", "2", "1Gi"), snap)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range d.Ranking {
		got[r.Node] = r.BalancedAllocation
	}
	if got["node-1"] <= got["node-2"] || got["node-1"] <= 75 || got["node-2"] >= 75 {
		t.Fatalf("balanced scores %v: want node-1 > 75 > node-2", got)
	}
	// A pod requesting nothing does not change any balance.
	d, _ = Schedule(pod("q", "", ""), snap)
	for _, r := range d.Ranking {
		if r.BalancedAllocation != 0 {
			t.Fatalf("best-effort pod got balanced score %d on %s", r.BalancedAllocation, r.Node)
		}
	}
}

// scheduleAll schedules pods one by one, assuming each decision in snap.
func scheduleAll(t *testing.T, snap *Snapshot, pods []*v1.Pod) map[string]int {
	t.Helper()
	count := map[string]int{}
	for _, p := range pods {
		d, err := Schedule(p, snap)
		if err != nil {
			t.Fatalf("schedule %s: %v", p.Name, err)
		}
		if _, err := snap.Assume(p, d.Node); err != nil {
			t.Fatal(err)
		}
		count[d.Node]++
	}
	return count
}

func replicas(n int, cpu, mem string, opts ...podOpt) []*v1.Pod {
	var out []*v1.Pod
	for i := range n {
		out = append(out, pod(fmt.Sprintf("web-%d", i), cpu, mem, append([]podOpt{ownedBy("ReplicaSet", "web"), labelled("app", "web")}, opts...)...))
	}
	return out
}

func TestDeploymentSpreads222(t *testing.T) {
	for _, tc := range []struct{ name, cpu, mem string }{
		{"with requests", "100m", "128Mi"},
		{"best effort", "", ""},
		{"large requests", "1", "2Gi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := scheduleAll(t, NewSnapshot(nodes3(), nil), replicas(6, tc.cpu, tc.mem))
			want := map[string]int{"node-1": 2, "node-2": 2, "node-3": 2}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("placement %v, want %v", got, want)
			}
		})
	}
}

func TestDeploymentSpreadsOverExistingLoad(t *testing.T) {
	// Other workloads already on node-1 do not stop the deployment from
	// using it, but it gets fewer replicas.
	snap := NewSnapshot(nodes3(), []*v1.Pod{pod("big", "2", "4Gi", on("node-1"))})
	got := scheduleAll(t, snap, replicas(7, "200m", "256Mi"))
	if got["node-1"] < 1 || got["node-1"] > got["node-2"] || got["node-2"]+got["node-3"]+got["node-1"] != 7 {
		t.Fatalf("placement %v", got)
	}
}

func TestRequiredAntiAffinityOnePerNode(t *testing.T) {
	snap := NewSnapshot(nodes3(), nil)
	pods := replicas(4, "", "", requiredPodAntiAffinity(hostTerm("app", "web")))
	got := scheduleAll(t, snap, pods[:3])
	if len(got) != 3 {
		t.Fatalf("placement %v, want one per node", got)
	}
	_, err := Schedule(pods[3], snap)
	want := "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."
	if err == nil || err.Error() != want {
		t.Fatalf("4th replica: got %v, want %q", err, want)
	}
}

func TestRankingIsSortedAndStable(t *testing.T) {
	snap := benchSnapshot(10, 500)
	p := benchPod()
	first, err := Schedule(p, snap)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(first.Ranking, func(a, b NodeScore) int {
		if a.Total != b.Total {
			return int(b.Total - a.Total)
		}
		return 0
	}) || first.Ranking[0].Node != first.Node {
		t.Fatalf("ranking not sorted: %+v", first.Ranking)
	}
	for range 20 {
		d, err := Schedule(p, snap)
		if err != nil || fmt.Sprint(d) != fmt.Sprint(first) {
			t.Fatalf("decision changed: %+v vs %+v (%v)", d, first, err)
		}
	}
}
