package scheduler

import (
	"errors"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const controlPlane = "node-role.kubernetes.io/control-plane"

// filterCase schedules pod on nodes holding pods, and expects either a node
// or the exact FitError message.
type filterCase struct {
	name    string
	nodes   []*v1.Node
	pods    []*v1.Pod
	pod     *v1.Pod
	want    string
	wantErr string
}

func runFilterCases(t *testing.T, cases []filterCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Schedule(tc.pod, NewSnapshot(tc.nodes, tc.pods))
			if tc.wantErr != "" {
				var fe *FitError
				if !errors.As(err, &fe) {
					t.Fatalf("got node %q, err %v; want FitError %q", d.Node, err, tc.wantErr)
				}
				if err.Error() != tc.wantErr {
					t.Fatalf("message\n got: %s\nwant: %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if d.Node != tc.want {
				t.Fatalf("got node %q, want %q (ranking %+v, rejected %+v)", d.Node, tc.want, d.Ranking, d.Rejected)
			}
		})
	}
}

func TestFilterNodeState(t *testing.T) {
	runFilterCases(t, []filterCase{
		{
			name:  "NotReady node is skipped",
			nodes: []*v1.Node{node("node-1", "4", "8Gi", 110, withReady(v1.ConditionFalse)), node("node-2", "4", "8Gi", 110)},
			pod:   pod("p", "", ""),
			want:  "node-2",
		},
		{
			name: "no Ready node at all",
			nodes: []*v1.Node{
				node("node-1", "4", "8Gi", 110, withReady(v1.ConditionFalse)),
				node("node-2", "4", "8Gi", 110, withReady(v1.ConditionUnknown)),
				node("node-3", "4", "8Gi", 110, withoutConditions()),
			},
			pod:     pod("p", "", ""),
			wantErr: "0/3 nodes are available: 3 node(s) were not ready.",
		},
		{
			name:  "toleration of not-ready lets a pod onto a NotReady node",
			nodes: []*v1.Node{node("node-1", "4", "8Gi", 110, withReady(v1.ConditionFalse))},
			pod:   pod("p", "", "", tolerate(v1.TaintNodeNotReady, v1.TolerationOpExists, "", v1.TaintEffectNoSchedule)),
			want:  "node-1",
		},
		{
			name:    "not-ready toleration does not cover an unreachable node",
			nodes:   []*v1.Node{node("node-1", "4", "8Gi", 110, withReady(v1.ConditionUnknown))},
			pod:     pod("p", "", "", tolerate(v1.TaintNodeNotReady, v1.TolerationOpExists, "", "")),
			wantErr: "0/1 nodes are available: 1 node(s) were not ready.",
		},
		{
			// Every pod gets this toleration from the DefaultTolerationSeconds
			// admission plugin; it must not open NotReady nodes to new pods.
			name:    "default NoExecute not-ready toleration does not cover scheduling",
			nodes:   []*v1.Node{node("node-1", "4", "8Gi", 110, withReady(v1.ConditionFalse))},
			pod:     pod("p", "", "", tolerate(v1.TaintNodeNotReady, v1.TolerationOpExists, "", v1.TaintEffectNoExecute)),
			wantErr: "0/1 nodes are available: 1 node(s) were not ready.",
		},
		{
			name:  "cordoned node is skipped",
			nodes: []*v1.Node{node("node-1", "4", "8Gi", 110, cordoned()), node("node-2", "4", "8Gi", 110)},
			pod:   pod("p", "", ""),
			want:  "node-2",
		},
		{
			name:    "only cordoned nodes",
			nodes:   []*v1.Node{node("node-1", "4", "8Gi", 110, cordoned()), node("node-2", "4", "8Gi", 110, cordoned())},
			pod:     pod("p", "", ""),
			wantErr: "0/2 nodes are available: 2 node(s) were unschedulable.",
		},
		{
			name:  "unschedulable toleration lets a pod onto a cordoned node",
			nodes: []*v1.Node{node("node-1", "4", "8Gi", 110, cordoned())},
			pod:   pod("p", "", "", tolerate(v1.TaintNodeUnschedulable, v1.TolerationOpExists, "", v1.TaintEffectNoSchedule)),
			want:  "node-1",
		},
		{
			name:    "no nodes",
			pod:     pod("p", "", ""),
			wantErr: "no nodes available to schedule pods",
		},
	})
}

func TestFilterTaints(t *testing.T) {
	runFilterCases(t, []filterCase{
		{
			name: "NoSchedule and NoExecute block, PreferNoSchedule does not",
			nodes: []*v1.Node{
				node("node-1", "4", "8Gi", 110, withTaint("a", "x", v1.TaintEffectNoSchedule)),
				node("node-2", "4", "8Gi", 110, withTaint("b", "y", v1.TaintEffectNoExecute)),
				node("node-3", "4", "8Gi", 110, withTaint("c", "z", v1.TaintEffectPreferNoSchedule)),
			},
			pod:  pod("p", "", ""),
			want: "node-3",
		},
		{
			name: "every node tainted",
			nodes: []*v1.Node{
				node("node-1", "4", "8Gi", 110, withTaint("a", "x", v1.TaintEffectNoSchedule)),
				node("node-2", "4", "8Gi", 110, withTaint("b", "y", v1.TaintEffectNoExecute)),
			},
			pod:     pod("p", "", ""),
			wantErr: "0/2 nodes are available: 1 node(s) had untolerated taint {a: x}, 1 node(s) had untolerated taint {b: y}.",
		},
		{
			name:  "Equal toleration",
			nodes: []*v1.Node{node("node-1", "4", "8Gi", 110, withTaint("a", "x", v1.TaintEffectNoSchedule))},
			pod:   pod("p", "", "", tolerate("a", v1.TolerationOpEqual, "x", v1.TaintEffectNoSchedule)),
			want:  "node-1",
		},
		{
			name:    "toleration with another value",
			nodes:   []*v1.Node{node("node-1", "4", "8Gi", 110, withTaint("a", "x", v1.TaintEffectNoSchedule))},
			pod:     pod("p", "", "", tolerate("a", v1.TolerationOpEqual, "y", v1.TaintEffectNoSchedule)),
			wantErr: "0/1 nodes are available: 1 node(s) had untolerated taint {a: x}.",
		},
		{
			name:  "toleration without effect covers NoExecute",
			nodes: []*v1.Node{node("node-1", "4", "8Gi", 110, withTaint("a", "", v1.TaintEffectNoExecute))},
			pod:   pod("p", "", "", tolerate("a", v1.TolerationOpExists, "", "")),
			want:  "node-1",
		},
		{
			name:  "empty key with Exists tolerates everything",
			nodes: []*v1.Node{node("node-1", "4", "8Gi", 110, withTaint("a", "", v1.TaintEffectNoSchedule), withTaint("b", "", v1.TaintEffectNoExecute))},
			pod:   pod("p", "", "", tolerate("", v1.TolerationOpExists, "", "")),
			want:  "node-1",
		},
	})
}

func TestFilterResources(t *testing.T) {
	one := []*v1.Node{node("node-1", "2", "4Gi", 3)}
	runFilterCases(t, []filterCase{
		{name: "fits exactly", nodes: one, pods: []*v1.Pod{pod("a", "1", "2Gi", on("node-1"))}, pod: pod("p", "1", "2Gi"), want: "node-1"},
		{
			name: "insufficient cpu", nodes: one, pods: []*v1.Pod{pod("a", "1500m", "", on("node-1"))},
			pod: pod("p", "600m", ""), wantErr: "0/1 nodes are available: 1 Insufficient cpu.",
		},
		{
			name: "insufficient cpu and memory on one node counts both", nodes: one,
			pods: []*v1.Pod{pod("a", "1500m", "3Gi", on("node-1"))},
			pod:  pod("p", "1", "2Gi"), wantErr: "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.",
		},
		{
			name: "too many pods", nodes: one,
			pods: []*v1.Pod{pod("a", "", "", on("node-1")), pod("b", "", "", on("node-1")), pod("c", "", "", on("node-1"))},
			pod:  pod("p", "", ""), wantErr: "0/1 nodes are available: 1 Too many pods.",
		},
		{
			name: "terminating pods still hold resources", nodes: one,
			pods: []*v1.Pod{pod("a", "2", "", on("node-1"), deleting())},
			pod:  pod("p", "100m", ""), wantErr: "0/1 nodes are available: 1 Insufficient cpu.",
		},
		{
			name: "terminating pods still count towards the pod limit", nodes: one,
			pods: []*v1.Pod{pod("a", "", "", on("node-1"), deleting()), pod("b", "", "", on("node-1"), deleting()), pod("c", "", "", on("node-1"))},
			pod:  pod("p", "", ""), wantErr: "0/1 nodes are available: 1 Too many pods.",
		},
		{
			name: "finished pods hold nothing", nodes: one,
			pods: []*v1.Pod{pod("a", "2", "4Gi", on("node-1"), phase(v1.PodSucceeded)), pod("b", "2", "", on("node-1"), phase(v1.PodFailed))},
			pod:  pod("p", "2", "4Gi"), want: "node-1",
		},
		{
			name: "init container larger than the containers sets the request", nodes: one,
			pods: []*v1.Pod{pod("a", "1", "", on("node-1"))},
			pod:  pod("p", "500m", "", initContainer("1500m", "", false)), wantErr: "0/1 nodes are available: 1 Insufficient cpu.",
		},
		{
			name: "init container smaller than the containers adds nothing", nodes: one,
			pods: []*v1.Pod{pod("a", "1", "", on("node-1"))},
			pod:  pod("p", "1", "", initContainer("800m", "", false)), want: "node-1",
		},
		{
			name: "bound pod's init container counts too", nodes: one,
			pods: []*v1.Pod{pod("a", "100m", "", on("node-1"), initContainer("2", "", false))},
			pod:  pod("p", "100m", ""), wantErr: "0/1 nodes are available: 1 Insufficient cpu.",
		},
		{
			name: "sidecar adds to the containers", nodes: one,
			pods: []*v1.Pod{pod("a", "1", "", on("node-1"))},
			pod:  pod("p", "600m", "", initContainer("600m", "", true)), wantErr: "0/1 nodes are available: 1 Insufficient cpu.",
		},
		{
			name: "pod overhead counts", nodes: one,
			pods: []*v1.Pod{pod("a", "1", "", on("node-1"))},
			pod:  pod("p", "900m", "", overhead("200m", "")), wantErr: "0/1 nodes are available: 1 Insufficient cpu.",
		},
		{
			name:  "extended resource the node lacks",
			nodes: []*v1.Node{node("node-1", "2", "4Gi", 3), node("node-2", "2", "4Gi", 3, withAllocatable("example.com/gpu", "1"))},
			pod:   pod("p", "", "", extended("example.com/gpu", "1")), want: "node-2",
		},
		{
			name:  "extended resource nowhere",
			nodes: one,
			pod:   pod("p", "", "", extended("example.com/gpu", "1")), wantErr: "0/1 nodes are available: 1 Insufficient example.com/gpu.",
		},
		{
			name:  "node that reports no allocatable takes no pod",
			nodes: []*v1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "bare"}, Status: v1.NodeStatus{Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}}}}},
			pod:   pod("p", "", ""), wantErr: "0/1 nodes are available: 1 Too many pods.",
		},
		{
			name:  "picks the node with room",
			nodes: []*v1.Node{node("node-1", "1", "4Gi", 110), node("node-2", "4", "4Gi", 110)},
			pod:   pod("p", "2", ""), want: "node-2",
		},
	})
}

func TestFilterNodeAffinity(t *testing.T) {
	nodes := []*v1.Node{
		node("node-1", "4", "8Gi", 110, withLabel("disk", "hdd"), withLabel("gen", "3")),
		node("node-2", "4", "8Gi", 110, withLabel("disk", "ssd"), withLabel("gen", "5")),
		node("node-3", "4", "8Gi", 110),
	}
	runFilterCases(t, []filterCase{
		{name: "nodeSelector", nodes: nodes, pod: pod("p", "", "", nodeSelector("disk", "ssd")), want: "node-2"},
		{
			name: "nodeSelector matching nothing", nodes: nodes, pod: pod("p", "", "", nodeSelector("disk", "nvme")),
			wantErr: "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
		},
		{name: "In", nodes: nodes, pod: pod("p", "", "", requiredNodeTerms(labelTerm("disk", v1.NodeSelectorOpIn, "ssd", "nvme"))), want: "node-2"},
		{name: "NotIn", nodes: nodes, pod: pod("p", "", "", requiredNodeTerms(labelTerm("disk", v1.NodeSelectorOpNotIn, "hdd", "ssd"))), want: "node-3"},
		{name: "Exists", nodes: nodes, pod: pod("p", "", "", requiredNodeTerms(labelTerm("gen", v1.NodeSelectorOpExists))), want: "node-1"},
		{name: "DoesNotExist", nodes: nodes, pod: pod("p", "", "", requiredNodeTerms(labelTerm("gen", v1.NodeSelectorOpDoesNotExist))), want: "node-3"},
		{name: "Gt", nodes: nodes, pod: pod("p", "", "", requiredNodeTerms(labelTerm("gen", v1.NodeSelectorOpGt, "4"))), want: "node-2"},
		{name: "matchFields metadata.name", nodes: nodes, pod: pod("p", "", "", requiredNodeTerms(nameTerm("node-3"))), want: "node-3"},
		{
			name: "terms are ORed", nodes: nodes,
			pod: pod("p", "", "", requiredNodeTerms(nameTerm("node-9"), labelTerm("disk", v1.NodeSelectorOpIn, "ssd"))), want: "node-2",
		},
		{
			name: "nodeSelector and affinity are ANDed", nodes: nodes,
			pod:     pod("p", "", "", nodeSelector("disk", "hdd"), requiredNodeTerms(labelTerm("gen", v1.NodeSelectorOpGt, "4"))),
			wantErr: "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
		},
	})
}

func TestFilterHostPorts(t *testing.T) {
	two := []*v1.Node{node("node-1", "4", "8Gi", 110), node("node-2", "4", "8Gi", 110)}
	web := func(name, node string, opts ...podOpt) *v1.Pod {
		return pod(name, "", "", append([]podOpt{on(node)}, opts...)...)
	}
	runFilterCases(t, []filterCase{
		{
			name: "port taken on node-1", nodes: two,
			pods: []*v1.Pod{web("a", "node-1", hostPortOn(80, "", ""))},
			pod:  pod("p", "", "", hostPortOn(80, v1.ProtocolTCP, "")), want: "node-2",
		},
		{
			name: "port taken everywhere", nodes: two,
			pods:    []*v1.Pod{web("a", "node-1", hostPortOn(80, "", "")), web("b", "node-2", hostPortOn(80, "", "0.0.0.0"))},
			pod:     pod("p", "", "", hostPortOn(80, "", "10.0.0.1")),
			wantErr: "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports.",
		},
		{
			name: "other protocol is free", nodes: two[:1],
			pods: []*v1.Pod{web("a", "node-1", hostPortOn(53, v1.ProtocolTCP, ""))},
			pod:  pod("p", "", "", hostPortOn(53, v1.ProtocolUDP, "")), want: "node-1",
		},
		{
			name: "other address is free", nodes: two[:1],
			pods: []*v1.Pod{web("a", "node-1", hostPortOn(80, "", "10.0.0.1"))},
			pod:  pod("p", "", "", hostPortOn(80, "", "10.0.0.2")), want: "node-1",
		},
		{
			name: "terminating pod still holds its port", nodes: two[:1],
			pods:    []*v1.Pod{web("a", "node-1", hostPortOn(80, "", ""), deleting())},
			pod:     pod("p", "", "", hostPortOn(80, "", "")),
			wantErr: "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
		},
		{
			name: "container port without host port takes nothing", nodes: two[:1],
			pods: []*v1.Pod{web("a", "node-1", func(p *v1.Pod) { p.Spec.Containers[0].Ports = []v1.ContainerPort{{ContainerPort: 80}} })},
			pod:  pod("p", "", "", func(p *v1.Pod) { p.Spec.Containers[0].Ports = []v1.ContainerPort{{ContainerPort: 80}} }), want: "node-1",
		},
		{
			name: "sidecar host port counts", nodes: two[:1],
			pods: []*v1.Pod{web("a", "node-1", initContainer("", "", true), func(p *v1.Pod) {
				p.Spec.InitContainers[0].Ports = []v1.ContainerPort{{ContainerPort: 9000, HostPort: 9000}}
			})},
			pod:     pod("p", "", "", hostPortOn(9000, "", "")),
			wantErr: "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
		},
	})
}

func TestFilterPodAffinity(t *testing.T) {
	nodes := nodes3()
	db := func(name, node string, opts ...podOpt) *v1.Pod {
		return pod(name, "", "", append([]podOpt{on(node), labelled("app", "db")}, opts...)...)
	}
	runFilterCases(t, []filterCase{
		{
			name: "anti-affinity avoids the node with a matching pod", nodes: nodes,
			pods: []*v1.Pod{db("a", "node-1")},
			pod:  pod("p", "", "", labelled("app", "db"), requiredPodAntiAffinity(hostTerm("app", "db"))), want: "node-2",
		},
		{
			name: "anti-affinity with every node taken", nodes: nodes,
			pods:    []*v1.Pod{db("a", "node-1"), db("b", "node-2"), db("c", "node-3")},
			pod:     pod("p", "", "", requiredPodAntiAffinity(hostTerm("app", "db"))),
			wantErr: "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.",
		},
		{
			name: "anti-affinity ignores other namespaces", nodes: nodes[:1],
			pods: []*v1.Pod{db("a", "node-1", inNamespace("other"))},
			pod:  pod("p", "", "", requiredPodAntiAffinity(hostTerm("app", "db"))), want: "node-1",
		},
		{
			name: "anti-affinity with an empty namespaceSelector covers every namespace", nodes: nodes[:1],
			pods: []*v1.Pod{db("a", "node-1", inNamespace("other"))},
			pod: pod("p", "", "", requiredPodAntiAffinity(func() v1.PodAffinityTerm {
				t := hostTerm("app", "db")
				t.NamespaceSelector = &metav1.LabelSelector{}
				return t
			}())),
			wantErr: "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules.",
		},
		{
			name: "terminating pods still repel", nodes: nodes[:1],
			pods:    []*v1.Pod{db("a", "node-1", deleting())},
			pod:     pod("p", "", "", requiredPodAntiAffinity(hostTerm("app", "db"))),
			wantErr: "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules.",
		},
		{
			name: "existing pod's anti-affinity repels the incoming pod", nodes: nodes[:2],
			pods: []*v1.Pod{pod("a", "", "", on("node-1"), requiredPodAntiAffinity(hostTerm("app", "web")))},
			pod:  pod("p", "", "", labelled("app", "web")), want: "node-2",
		},
		{
			name: "existing pods' anti-affinity everywhere", nodes: nodes[:2],
			pods: []*v1.Pod{
				pod("a", "", "", on("node-1"), requiredPodAntiAffinity(hostTerm("app", "web"))),
				pod("b", "", "", on("node-2"), requiredPodAntiAffinity(hostTerm("app", "web"))),
			},
			pod:     pod("p", "", "", labelled("app", "web")),
			wantErr: "0/2 nodes are available: 2 node(s) didn't satisfy existing pods anti-affinity rules.",
		},
		{
			name: "existing anti-affinity does not repel pods it does not select", nodes: nodes[:1],
			pods: []*v1.Pod{pod("a", "", "", on("node-1"), requiredPodAntiAffinity(hostTerm("app", "web")))},
			pod:  pod("p", "", "", labelled("app", "api")), want: "node-1",
		},
		{
			name: "affinity goes to the node of the matching pod", nodes: nodes,
			pods: []*v1.Pod{db("a", "node-3")},
			pod:  pod("p", "", "", requiredPodAffinity(hostTerm("app", "db"))), want: "node-3",
		},
		{
			name: "affinity with no matching pod anywhere", nodes: nodes,
			pod:     pod("p", "", "", requiredPodAffinity(hostTerm("app", "db"))),
			wantErr: "0/3 nodes are available: 3 node(s) didn't match pod affinity rules.",
		},
		{
			name: "first pod of a self-affine group may go anywhere", nodes: nodes,
			pod: pod("p", "", "", labelled("app", "db"), requiredPodAffinity(hostTerm("app", "db"))), want: "node-1",
		},
		{
			name: "affinity needs the topology label on the node",
			nodes: []*v1.Node{func() *v1.Node {
				n := node("node-1", "4", "8Gi", 110)
				delete(n.Labels, v1.LabelHostname)
				return n
			}()},
			pod:     pod("p", "", "", labelled("app", "db"), requiredPodAffinity(hostTerm("app", "db"))),
			wantErr: "0/1 nodes are available: 1 node(s) didn't match pod affinity rules.",
		},
		{
			// node-3 shares zone b with the db pod and is emptier than node-2.
			name: "affinity over a zone topology", nodes: []*v1.Node{
				node("node-1", "4", "8Gi", 110, withLabel(v1.LabelTopologyZone, "a")),
				node("node-2", "4", "8Gi", 110, withLabel(v1.LabelTopologyZone, "b")),
				node("node-3", "4", "8Gi", 110, withLabel(v1.LabelTopologyZone, "b")),
			},
			pods: []*v1.Pod{db("a", "node-2")},
			pod: pod("p", "1", "", requiredPodAffinity(v1.PodAffinityTerm{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
				TopologyKey:   v1.LabelTopologyZone,
			})),
			want: "node-3",
		},
	})
}

func TestNamespaceSelector(t *testing.T) {
	term := hostTerm("app", "db")
	term.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "red"}}
	snap := NewSnapshot(nodes3()[:2], []*v1.Pod{
		pod("a", "", "", on("node-1"), labelled("app", "db"), inNamespace("red-ns")),
		pod("b", "", "", on("node-2"), labelled("app", "db"), inNamespace("blue-ns")),
	})
	p := pod("p", "", "", requiredPodAntiAffinity(term))

	// Without namespace labels no namespace matches the selector.
	if d, err := Schedule(p, snap); err != nil || d.Node != "node-1" {
		t.Fatalf("without labels: got %q, %v; want node-1", d.Node, err)
	}
	snap.SetNamespaces([]*v1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "red-ns", Labels: map[string]string{"team": "red"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "blue-ns", Labels: map[string]string{"team": "blue"}}},
	})
	if d, err := Schedule(p, snap); err != nil || d.Node != "node-2" {
		t.Fatalf("with labels: got %q, %v; want node-2", d.Node, err)
	}
}

func TestFilterOrderFirstFailureOnly(t *testing.T) {
	// A cordoned, tainted, too small node reports only the first failure,
	// as kube-scheduler reports the first failing plugin.
	nodes := []*v1.Node{node("node-1", "1", "1Gi", 110, cordoned(), withTaint("a", "", v1.TaintEffectNoSchedule))}
	_, err := Schedule(pod("p", "2", ""), NewSnapshot(nodes, nil))
	want := "0/1 nodes are available: 1 node(s) were unschedulable."
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestInvalidPodAffinityIsNotAFitError(t *testing.T) {
	term := hostTerm("app", "db")
	term.LabelSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "x", Operator: "Bogus"}}
	_, err := Schedule(pod("p", "", "", requiredPodAntiAffinity(term)), NewSnapshot(nodes3(), nil))
	var fe *FitError
	if err == nil || errors.As(err, &fe) {
		t.Fatalf("got %v, want a plain error", err)
	}
}
