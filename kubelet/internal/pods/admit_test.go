package pods

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kinns/kinns/cni"
	"github.com/kinns/kinns/kubelet/config"
)

func withHostPort(ip string, port int32, proto v1.Protocol) func(*v1.Pod) {
	return func(p *v1.Pod) {
		c := &p.Spec.Containers[0]
		c.Ports = append(c.Ports, v1.ContainerPort{HostIP: ip, HostPort: port, ContainerPort: 8080, Protocol: proto})
	}
}

func withRequests(cpu, mem string) func(*v1.Pod) {
	return func(p *v1.Pod) {
		p.Spec.Containers[0].Resources.Requests = v1.ResourceList{
			v1.ResourceCPU: resource.MustParse(cpu), v1.ResourceMemory: resource.MustParse(mem),
		}
	}
}

func admitNode(pods string, mut ...func(*v1.Node)) *v1.Node {
	n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{"zone": "a"}},
		Status: v1.NodeStatus{Allocatable: v1.ResourceList{
			v1.ResourceCPU: resource.MustParse("2"), v1.ResourceMemory: resource.MustParse("1Gi"), v1.ResourcePods: resource.MustParse(pods),
		}}}
	for _, f := range mut {
		f(n)
	}
	return n
}

func TestAdmitHostPorts(t *testing.T) {
	held := []*v1.Pod{
		testPod("lo", withHostPort("127.0.0.1", 54323, "")),
		testPod("any", withHostPort("", 80, v1.ProtocolTCP)),
	}
	for _, c := range []struct {
		name string
		pod  *v1.Pod
		fits bool
	}{
		{"same port, other address", testPod("p", withHostPort("10.89.0.21", 54323, v1.ProtocolTCP)), true},
		{"same port and address, UDP", testPod("p", withHostPort("127.0.0.1", 54323, v1.ProtocolUDP)), true},
		{"same port and address", testPod("p", withHostPort("127.0.0.1", 54323, v1.ProtocolTCP)), false},
		{"wildcard against an address", testPod("p", withHostPort("0.0.0.0", 54323, "")), false},
		{"an address against a wildcard", testPod("p", withHostPort("10.89.0.21", 80, "")), false},
		{"no host port", testPod("p"), true},
	} {
		r := admit(c.pod, admitNode("110"), held)
		if (r == nil) != c.fits {
			t.Errorf("%s: admit = %+v, want fits %v", c.name, r, c.fits)
		}
		if r != nil && (r.Reason != "NodePorts" || r.Message != "Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports") {
			t.Errorf("%s: rejection %+v, want upstream's NodePorts reason and message", c.name, r)
		}
	}
}

func TestAdmitResourcesNodeAndTaints(t *testing.T) {
	big := testPod("big", withRequests("1500m", "100Mi"))
	noExecute := func(n *v1.Node) {
		n.Spec.Taints = []v1.Taint{{Key: "k", Value: "v", Effect: v1.TaintEffectNoExecute}}
	}
	noSchedule := func(n *v1.Node) {
		n.Spec.Taints = []v1.Taint{{Key: "k", Value: "v", Effect: v1.TaintEffectNoSchedule}}
	}
	for _, c := range []struct {
		name            string
		pod             *v1.Pod
		node            *v1.Node
		reason, message string
	}{
		{"cpu", testPod("p", withRequests("600m", "1Mi")), admitNode("110"),
			"OutOfcpu", "Node didn't have enough resource: cpu, requested: 600, used: 1500, capacity: 2000"},
		{"memory", testPod("p", withRequests("1m", "1Gi")), admitNode("110"),
			"OutOfmemory", "Node didn't have enough resource: memory, requested: 1073741824, used: 104857600, capacity: 1073741824"},
		{"pods", testPod("p"), admitNode("1"),
			"OutOfpods", "Node didn't have enough resource: pods, requested: 1, used: 1, capacity: 1"},
		{"node name", testPod("p", func(p *v1.Pod) { p.Spec.NodeName = "node-2" }), admitNode("110"),
			"NodeName", "Predicate NodeName failed: node(s) didn't match the requested node name"},
		{"selector", testPod("p", func(p *v1.Pod) { p.Spec.NodeSelector = map[string]string{"zone": "b"} }), admitNode("110"),
			"NodeAffinity", "Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector"},
		{"NoExecute taint", testPod("p"), admitNode("110", noExecute),
			"TaintToleration", "Predicate TaintToleration failed: node(s) had taints that the pod didn't tolerate"},
		{"NoSchedule taint is the scheduler's", testPod("p"), admitNode("110", noSchedule), "", ""},
		{"tolerated", testPod("p", func(p *v1.Pod) {
			p.Spec.Tolerations = []v1.Toleration{{Key: "k", Operator: v1.TolerationOpExists}}
		}), admitNode("110", noExecute), "", ""},
		{"fits", testPod("p", withRequests("500m", "100Mi")), admitNode("110"), "", ""},
	} {
		r := admit(c.pod, c.node, []*v1.Pod{big})
		got := rejection{}
		if r != nil {
			got = *r
		}
		if got != (rejection{Reason: c.reason, Message: c.message}) {
			t.Errorf("%s: admit = %+v, want %q %q", c.name, got, c.reason, c.message)
		}
	}
}

func TestPortMappingsOfContainersAndSidecars(t *testing.T) {
	always := v1.ContainerRestartPolicyAlways
	pod := testPod("p", withHostPort("127.0.0.1", 54323, v1.ProtocolUDP), func(p *v1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, v1.ContainerPort{ContainerPort: 9000})
		p.Spec.InitContainers = []v1.Container{
			{Name: "init", Ports: []v1.ContainerPort{{HostPort: 1, ContainerPort: 1}}},
			{Name: "sidecar", RestartPolicy: &always, Ports: []v1.ContainerPort{{HostPort: 2, ContainerPort: 3}}},
		}
	})
	want := []cni.PortMapping{
		{HostPort: 2, ContainerPort: 3},
		{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 54323, ContainerPort: 8080, Protocol: "UDP"},
	}
	if got := portMappings(pod); !slices.Equal(got, want) {
		t.Errorf("portMappings = %+v, want %+v", got, want)
	}
}

// A pod whose host port another pod of the node holds is Failed at
// admission, with upstream's reason and message, and never gets a sandbox;
// once the holder is gone, a new pod with that port runs.
func TestKubeletRejectsAPodWhoseHostPortIsTaken(t *testing.T) {
	tk := startTestKubelet(t)
	tk.create(t, testPod("holder", withHostPort("", 21017, "")))
	tk.waitPod(t, "holder", "running", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning })
	if got := tk.net.portsOf("uid-holder"); len(got) != 1 || got[0].HostPort != 21017 {
		t.Errorf("network got port mappings %+v, want host port 21017", got)
	}

	tk.create(t, testPod("second", withHostPort("", 21017, "")))
	p := tk.waitPod(t, "second", "failed", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodFailed })
	want := "Pod was rejected: Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports"
	if p.Status.Reason != "NodePorts" || p.Status.Message != want {
		t.Errorf("rejected pod: reason %q message %q", p.Status.Reason, p.Status.Message)
	}
	if tk.net.has("uid-second") {
		t.Error("the rejected pod got a network")
	}

	tk.create(t, testPod("udp", withHostPort("", 21017, v1.ProtocolUDP)))
	tk.waitPod(t, "udp", "running", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning })

	if err := tk.client.CoreV1().Pods("default").Delete(context.Background(), "holder", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	tk.create(t, testPod("third", withHostPort("", 21017, "")))
	tk.waitPod(t, "third", "running", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning })
}

// A pod the API shows Running was admitted by an earlier kubelet: a new one
// keeps it, and counts its host ports against new pods.
func TestKubeletKeepsRunningPodsAfterARestart(t *testing.T) {
	tk := startTestKubelet(t)
	running := func(p *v1.Pod) { p.Status.Phase = v1.PodRunning }
	tk.create(t, testPod("old-1", withHostPort("", 8080, ""), running))
	tk.create(t, testPod("old-2", withHostPort("", 8080, ""), running))
	for _, name := range []string{"old-1", "old-2"} {
		tk.waitPod(t, name, "with its container running", func(p *v1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
		})
	}
	tk.create(t, testPod("new", withHostPort("10.89.0.21", 8080, "")))
	p := tk.waitPod(t, "new", "failed", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodFailed })
	if p.Status.Reason != "NodePorts" {
		t.Errorf("new pod: reason %q, want NodePorts", p.Status.Reason)
	}
}

func withSysctls(list ...v1.Sysctl) func(*v1.Pod) {
	return func(p *v1.Pod) { p.Spec.SecurityContext = &v1.PodSecurityContext{Sysctls: list} }
}

// TestSafeSysctlsReachTheRuntime: a safe sysctl is admitted and handed to
// the runtime by its dotted name.
func TestSafeSysctlsReachTheRuntime(t *testing.T) {
	tk := startTestKubelet(t)
	tk.create(t, testPod("safe", withSysctls(v1.Sysctl{Name: "kernel/shm_rmid_forced", Value: "1"})))
	tk.waitPod(t, "safe", "ready", podIsReady)
	run, _ := tk.rt.running("app")
	tk.rt.mu.Lock()
	got := tk.rt.specs[run.ID].Security.Sysctls
	tk.rt.mu.Unlock()
	if got["kernel.shm_rmid_forced"] != "1" || len(got) != 1 {
		t.Errorf("runtime got sysctls %v, want kernel.shm_rmid_forced=1", got)
	}
}

// TestUnsafeSysctlRefused: an unsafe sysctl the node does not allow fails
// the pod with SysctlForbidden and starts nothing; allowed on the node
// (a prefix pattern), the same pod runs.
func TestUnsafeSysctlRefused(t *testing.T) {
	unsafe := withSysctls(v1.Sysctl{Name: "kernel.msgmax", Value: "10000000000"})
	tk := startTestKubelet(t)
	tk.create(t, testPod("unsafe", unsafe))
	p := tk.waitPod(t, "unsafe", "Failed", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodFailed })
	if p.Status.Reason != "SysctlForbidden" || !strings.Contains(p.Status.Message, `forbidden sysctl: "kernel.msgmax" not allowlisted`) {
		t.Errorf("reason %q, message %q", p.Status.Reason, p.Status.Message)
	}
	if starts := tk.rt.startList(); len(starts) != 0 {
		t.Errorf("a refused pod started %v", starts)
	}

	allowed := startTestKubelet(t, func(tk *testKubelet) {
		tk.config = func(c *config.Config) { c.AllowedUnsafeSysctls = []string{"kernel.msg*"} }
	})
	allowed.create(t, testPod("allowed", unsafe))
	allowed.waitPod(t, "allowed", "ready", podIsReady)
}

// Admission reads the Node from the kubelet's informer, not with a GET per
// pod (a burst would wait on as many round trips in a row, under the
// admission lock), and still sees the Node's latest taints.
func TestAdmissionReadsTheNodeFromItsInformer(t *testing.T) {
	tk := startTestKubelet(t)
	waitFor(t, "the Node's informer to sync", func() bool {
		nodes := tk.k.nodeInformer()
		return nodes != nil && nodes.Informer().HasSynced()
	})
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		tk.create(t, testPod(name))
	}
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		tk.waitPod(t, name, "running", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning })
	}
	gets := 0
	for _, a := range tk.client.Actions() {
		if a.GetVerb() == "get" && a.GetResource().Resource == "nodes" {
			gets++
		}
	}
	if gets != 0 {
		t.Errorf("admitting 5 pods made %d GETs of the Node, want none", gets)
	}

	ctx := context.Background()
	node, err := tk.client.CoreV1().Nodes().Get(ctx, tk.k.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Spec.Taints = []v1.Taint{{Key: "k", Value: "v", Effect: v1.TaintEffectNoExecute}}
	if _, err := tk.client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the informer to see the taint", func() bool {
		n, err := tk.k.nodeInformer().Lister().Get(tk.k.cfg.NodeName)
		return err == nil && len(n.Spec.Taints) == 1
	})
	tk.create(t, testPod("tainted"))
	p := tk.waitPod(t, "tainted", "failed", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodFailed })
	if p.Status.Reason != "TaintToleration" {
		t.Errorf("pod on the tainted node: reason %q, want TaintToleration", p.Status.Reason)
	}
}
