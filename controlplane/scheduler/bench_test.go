package scheduler

import (
	"fmt"
	"testing"

	v1 "k8s.io/api/core/v1"
)

// benchSnapshot is a cluster of n nodes holding pods pods from 10
// deployments, round robin; every fifth pod has a preferred anti-affinity
// and every tenth a host port, so every scorer and filter has work to do.
func benchSnapshot(nodes, pods int) *Snapshot {
	var ns []*v1.Node
	for i := range nodes {
		ns = append(ns, node(fmt.Sprintf("node-%02d", i), "64", "256Gi", 110, withLabel(v1.LabelTopologyZone, fmt.Sprint("zone-", i%3))))
	}
	var ps []*v1.Pod
	for i := range pods {
		app := fmt.Sprint("app-", i%10)
		opts := []podOpt{on(ns[i%nodes].Name), labelled("app", app), ownedBy("ReplicaSet", app)}
		if i%5 == 0 {
			opts = append(opts, preferredPodAntiAffinity(10, hostTerm("app", app)))
		}
		if i%10 == 0 {
			opts = append(opts, hostPortOn(int32(10000+i), "", ""))
		}
		ps = append(ps, pod(fmt.Sprint("pod-", i), "100m", "128Mi", opts...))
	}
	return NewSnapshot(ns, ps)
}

func benchPod() *v1.Pod {
	return pod("incoming", "250m", "256Mi", labelled("app", "app-3"), ownedBy("ReplicaSet", "app-3"),
		preferredPodAntiAffinity(50, hostTerm("app", "app-3")),
		preferredNode(20, labelTerm(v1.LabelTopologyZone, v1.NodeSelectorOpIn, "zone-1")),
		hostPortOn(8080, "", ""),
		tolerate(v1.TaintNodeNotReady, v1.TolerationOpExists, "", v1.TaintEffectNoExecute))
}

// BenchmarkSchedule times one decision on 10 nodes holding 500 pods, for a
// pod with every kind of constraint and for a plain replica.
func BenchmarkSchedule(b *testing.B) {
	snap := benchSnapshot(10, 500)
	for name, p := range map[string]*v1.Pod{
		"constrained": benchPod(),
		"plain":       pod("incoming", "250m", "256Mi", labelled("app", "app-3"), ownedBy("ReplicaSet", "app-3")),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Schedule(p, snap); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkScheduleAndAssume times the scheduler's loop: decide, then
// record the decision in the snapshot (undone so every round is the same).
func BenchmarkScheduleAndAssume(b *testing.B) {
	snap := benchSnapshot(10, 500)
	p := benchPod()
	b.ReportAllocs()
	for b.Loop() {
		d, err := Schedule(p, snap)
		if err != nil {
			b.Fatal(err)
		}
		bound, err := snap.Assume(p, d.Node)
		if err != nil {
			b.Fatal(err)
		}
		snap.RemovePod(bound)
	}
}
