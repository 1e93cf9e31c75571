package scheduler

import (
	"reflect"
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func podNames(pods []*v1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestNewSnapshot(t *testing.T) {
	snap := NewSnapshot(
		[]*v1.Node{node("node-b", "4", "8Gi", 110), node("node-a", "4", "8Gi", 110)},
		[]*v1.Pod{
			pod("bound", "1", "", on("node-a")),
			pod("deleting", "1", "", on("node-a"), deleting()),
			pod("pending", "1", ""),
			pod("elsewhere", "1", "", on("node-z")),
			pod("done", "1", "", on("node-a"), phase(v1.PodSucceeded)),
			pod("failed", "1", "", on("node-b"), phase(v1.PodFailed)),
		})
	if got := snap.Nodes(); !slices.Equal(got, []string{"node-a", "node-b"}) {
		t.Errorf("Nodes() = %v", got)
	}
	if got := podNames(snap.PodsOn("node-a")); !slices.Equal(got, []string{"bound", "deleting"}) {
		t.Errorf("PodsOn(node-a) = %v", got)
	}
	if got := snap.PodsOn("node-b"); len(got) != 0 {
		t.Errorf("PodsOn(node-b) = %v", podNames(got))
	}
	if got := snap.byName["node-a"].requested.milliCPU; got != 2000 {
		t.Errorf("node-a requested %dm, want 2000m", got)
	}
}

func TestAddPodReplacesAndRemoves(t *testing.T) {
	snap := NewSnapshot(nodes3()[:2], nil)
	ni := snap.byName["node-1"]
	mustAdd := func(p *v1.Pod) {
		t.Helper()
		if err := snap.AddPod(p); err != nil {
			t.Fatal(err)
		}
	}
	mustAdd(pod("a", "1", "1Gi", on("node-1"), hostPortOn(80, "", ""), ownedBy("ReplicaSet", "web")))
	mustAdd(pod("a", "2", "1Gi", on("node-1"), hostPortOn(81, "", ""), ownedBy("ReplicaSet", "web"))) // an update
	if len(ni.pods) != 1 || ni.requested.milliCPU != 2000 || len(ni.usedPorts) != 1 || ni.usedPorts[0].port != 81 {
		t.Fatalf("after update: %d pods, %dm, ports %v", len(ni.pods), ni.requested.milliCPU, ni.usedPorts)
	}
	if ni.owners["default/owner-web"] != 1 {
		t.Fatalf("owners %v", ni.owners)
	}

	// Deletion starts: the pod keeps its resources but no longer counts
	// as a live replica.
	mustAdd(pod("a", "2", "1Gi", on("node-1"), hostPortOn(81, "", ""), ownedBy("ReplicaSet", "web"), deleting()))
	if ni.requested.milliCPU != 2000 || len(ni.owners) != 0 {
		t.Fatalf("deleting: %dm, owners %v", ni.requested.milliCPU, ni.owners)
	}

	// The pod moves (a recreated pod with the same name on another node).
	mustAdd(pod("a", "1", "", on("node-2")))
	if len(ni.pods) != 0 || ni.requested.milliCPU != 0 || len(ni.usedPorts) != 0 || len(snap.PodsOn("node-2")) != 1 {
		t.Fatalf("move: node-1 has %d pods, %dm", len(ni.pods), ni.requested.milliCPU)
	}

	// A finished pod is dropped.
	mustAdd(pod("a", "1", "", on("node-2"), phase(v1.PodSucceeded)))
	if len(snap.PodsOn("node-2")) != 0 || snap.byName["node-2"].requested.milliCPU != 0 {
		t.Fatal("finished pod still held")
	}
	if snap.RemovePod(pod("a", "", "")) {
		t.Fatal("RemovePod of an absent pod reported true")
	}
	if err := snap.AddPod(pod("x", "", "", on("node-9"))); err == nil {
		t.Fatal("AddPod on an unknown node: want error")
	}
	if err := snap.AddPod(pod("x", "", "")); err == nil {
		t.Fatal("AddPod of an unbound pod: want error")
	}
}

func TestAssumeAndForget(t *testing.T) {
	snap := NewSnapshot(nodes3()[:1], nil)
	p := pod("p", "3", "", requiredPodAntiAffinity(hostTerm("app", "x")), labelled("app", "x"))
	bound, err := snap.Assume(p, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != "" || bound.Spec.NodeName != "node-1" {
		t.Fatalf("Assume modified the pod (%q) or not the copy (%q)", p.Spec.NodeName, bound.Spec.NodeName)
	}
	if _, err := Schedule(pod("q", "2", ""), snap); err == nil {
		t.Fatal("assumed pod's cpu not held")
	}
	if len(snap.byName["node-1"].withAffinity) != 1 {
		t.Fatal("assumed pod's affinity not indexed")
	}
	if !snap.RemovePod(p) {
		t.Fatal("RemovePod did not find the assumed pod")
	}
	if _, err := Schedule(pod("q", "2", ""), snap); err != nil {
		t.Fatalf("after RemovePod: %v", err)
	}
	if len(snap.byName["node-1"].withAffinity) != 0 {
		t.Fatal("affinity index not cleaned")
	}
	if _, err := snap.Assume(p, "node-9"); err == nil {
		t.Fatal("Assume on an unknown node: want error")
	}
}

func TestScheduleDoesNotModifyItsInputs(t *testing.T) {
	snap := benchSnapshot(4, 40)
	p := benchPod()
	before := p.DeepCopy()
	type nodeState struct {
		pods     int
		cpu, mem int64
		ports    int
	}
	state := func() map[string]nodeState {
		out := map[string]nodeState{}
		for _, ni := range snap.nodes {
			out[ni.node.Name] = nodeState{len(ni.pods), ni.requested.milliCPU, ni.requested.memory, len(ni.usedPorts)}
		}
		return out
	}
	s0 := state()
	if _, err := Schedule(p, snap); err != nil {
		t.Fatal(err)
	}
	if s1 := state(); len(s1) != len(s0) {
		t.Fatal("node set changed")
	} else {
		for k := range s0 {
			if s0[k] != s1[k] {
				t.Fatalf("node %s changed: %+v -> %+v", k, s0[k], s1[k])
			}
		}
	}
	if !reflect.DeepEqual(p, before) {
		t.Fatal("pod modified")
	}
}

func TestSetNodeAndRemoveNode(t *testing.T) {
	snap := NewSnapshot([]*v1.Node{node("node-b", "1", "1Gi", 110)}, []*v1.Pod{pod("p", "1", "", on("node-b"))})
	p := pod("q", "1", "")
	if _, err := Schedule(p, snap); err == nil {
		t.Fatal("q fits on a full node-b")
	}

	snap.SetNode(node("node-c", "2", "1Gi", 110))
	snap.SetNode(node("node-a", "2", "1Gi", 110))
	if got := snap.Nodes(); !slices.Equal(got, []string{"node-a", "node-b", "node-c"}) {
		t.Fatalf("Nodes() = %v", got)
	}
	snap.SetNode(node("node-b", "4", "1Gi", 110, withTaint("k", "v", v1.TaintEffectNoSchedule))) // an update
	if got := podNames(snap.PodsOn("node-b")); !slices.Equal(got, []string{"p"}) {
		t.Fatalf("update of node-b lost its pods: %v", got)
	}
	if ni := snap.byName["node-b"]; ni.allocatable.milliCPU != 4000 || len(ni.node.Spec.Taints) != 1 {
		t.Fatalf("node-b not updated: %dm, taints %v", ni.allocatable.milliCPU, ni.node.Spec.Taints)
	}

	if !snap.RemoveNode("node-b") || snap.RemoveNode("node-b") {
		t.Fatal("RemoveNode(node-b) should report true once")
	}
	if snap.RemovePod(pod("p", "", "")) {
		t.Fatal("pods of a removed node are still known")
	}
	d, err := Schedule(p, snap)
	if err != nil || d.Node != "node-a" {
		t.Fatalf("Schedule = %q, %v; want node-a", d.Node, err)
	}
}
