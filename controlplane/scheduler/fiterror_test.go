package scheduler

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestImpossiblePodMessage(t *testing.T) {
	nodes := []*v1.Node{
		node("cp-1", "4", "8Gi", 110, withTaint(controlPlane, "", v1.TaintEffectNoSchedule)),
		node("cp-2", "4", "8Gi", 110, withTaint(controlPlane, "", v1.TaintEffectNoSchedule)),
		node("node-1", "4", "8Gi", 110),
	}
	_, err := Schedule(pod("huge", "8", "1Gi"), NewSnapshot(nodes, nil))
	want := "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }."
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

func TestFitErrorEveryReason(t *testing.T) {
	nodes := []*v1.Node{
		node("a-notready", "4", "8Gi", 110, withReady(v1.ConditionFalse)),
		node("b-cordoned", "4", "8Gi", 110, cordoned()),
		node("c-tainted", "4", "8Gi", 110, withTaint("dedicated", "gpu", v1.TaintEffectNoExecute)),
		node("d-other", "4", "8Gi", 110, withLabel("zone", "b")),
		node("e-small", "1", "1Gi", 110, withLabel("zone", "a")),
		node("f-full", "4", "8Gi", 1, withLabel("zone", "a")),
		node("g-port", "4", "8Gi", 110, withLabel("zone", "a")),
		node("h-anti", "4", "8Gi", 110, withLabel("zone", "a")),
		node("i-theirs", "4", "8Gi", 110, withLabel("zone", "a")),
	}
	pods := []*v1.Pod{
		pod("x", "", "", on("f-full")),
		pod("y", "", "", on("g-port"), hostPortOn(8080, "", "")),
		pod("z", "", "", on("h-anti"), labelled("app", "db")),
		pod("w", "", "", on("i-theirs"), requiredPodAntiAffinity(hostTerm("app", "web"))),
	}
	p := pod("web", "2", "2Gi", labelled("app", "web"), nodeSelector("zone", "a"),
		hostPortOn(8080, "", ""), requiredPodAntiAffinity(hostTerm("app", "db")))
	_, err := Schedule(p, NewSnapshot(nodes, pods))
	var fe *FitError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want FitError", err)
	}
	want := "0/9 nodes are available: " +
		"1 Insufficient cpu, 1 Insufficient memory, 1 Too many pods, " +
		"1 node(s) didn't have free ports for the requested pod ports, " +
		"1 node(s) didn't match Pod's node affinity/selector, " +
		"1 node(s) didn't match pod anti-affinity rules, " +
		"1 node(s) didn't satisfy existing pods anti-affinity rules, " +
		"1 node(s) had untolerated taint {dedicated: gpu}, " +
		"1 node(s) were not ready, 1 node(s) were unschedulable."
	if err.Error() != want {
		t.Fatalf("got  %s\nwant %s", err, want)
	}
	if got := fe.Insufficient(); !slices.Equal(got, []v1.ResourceName{"cpu", "memory", "pods"}) {
		t.Errorf("Insufficient() = %v", got)
	}
	for f, n := range map[Filter]int{
		FilterNodeReady: 1, FilterNodeUnschedulable: 1, FilterTaintToleration: 1, FilterNodeAffinity: 1,
		FilterNodePorts: 1, FilterNodeResourcesFit: 2, FilterInterPodAffinity: 2,
	} {
		if got := fe.Rejected(f); got != n {
			t.Errorf("Rejected(%s) = %d, want %d", f, got, n)
		}
	}
	if r := fe.NodeReasons["c-tainted"]; len(r) != 1 || r[0].Taint == nil || r[0].Taint.Key != "dedicated" {
		t.Errorf("taint reason %+v", r)
	}
}

func TestFitErrorReasonsCountAndSort(t *testing.T) {
	var nodes []*v1.Node
	for i := range 12 {
		opt := withTaint("t", "", v1.TaintEffectNoSchedule)
		if i < 2 {
			opt = cordoned()
		}
		nodes = append(nodes, node(fmt.Sprintf("n-%02d", i), "4", "8Gi", 110, opt))
	}
	_, err := Schedule(pod("p", "", ""), NewSnapshot(nodes, nil))
	var fe *FitError
	if !errors.As(err, &fe) {
		t.Fatal(err)
	}
	// kube-scheduler sorts "<count> <reason>" as plain strings, so "10 …"
	// comes before "2 …".
	want := "0/12 nodes are available: 10 node(s) had untolerated taint {t: }, 2 node(s) were unschedulable."
	if err.Error() != want {
		t.Fatalf("got  %s\nwant %s", err, want)
	}
	rs := fe.Reasons()
	if len(rs) != 2 || rs[0].Nodes != 10 || rs[0].Filter != FilterTaintToleration || rs[1].Nodes != 2 {
		t.Fatalf("Reasons() = %+v", rs)
	}
}
