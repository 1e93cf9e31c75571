package node

import (
	"context"
	"log/slog"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kinns/kinns/kubelet/config"
)

// testAgent is a node agent on a fake API, with a runtime and a network
// that always answer.
type testAgent struct {
	client *fake.Clientset
	// heartbeat, if a setup sets it, is the agent's heartbeat client.
	heartbeat *fake.Clientset
}

type answering struct{}

func (answering) Version(context.Context) (string, error) { return "1.6.20", nil }
func (answering) Status(context.Context) error            { return nil }

// startAgent registers the node and runs its agent until the test ends.
func startAgent(t *testing.T, setup ...func(*testAgent)) *testAgent {
	t.Helper()
	cfg := config.Config{
		NodeName: "node-1", NodeIP: "10.89.0.21", PodCIDR: "10.244.1.0/24", ContainerdNamespace: "t-node-1",
		Capacity: v1.ResourceList{v1.ResourceCPU: resource.MustParse("2"), v1.ResourceMemory: resource.MustParse("2Gi"), v1.ResourcePods: resource.MustParse("20")},
		Reserved: v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m"), v1.ResourceMemory: resource.MustParse("128Mi")},
		Timings:  config.TimingsFor(config.ProfileFast),
		Log:      slog.New(slog.DiscardHandler),
	}
	cfg.StatusUpdateFrequency, cfg.LeaseRenewInterval = 100*time.Millisecond, 100*time.Millisecond
	cfg.Default()
	tk := &testAgent{client: fake.NewClientset()}
	for _, f := range setup {
		f(tk)
	}
	d := Deps{Client: tk.client, Runtime: answering{}, Network: answering{}}
	if tk.heartbeat != nil {
		d.Heartbeat = tk.heartbeat
	}
	a := New(cfg, d)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Register(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("register: %v", err)
			return
		}
		a.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return tk
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting until %s", what)
}

func TestNodeRegistrationAndHeartbeats(t *testing.T) {
	tk := startAgent(t)
	ctx := context.Background()
	var node *v1.Node
	waitFor(t, "node registered", func() bool {
		var err error
		node, err = tk.client.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
		return err == nil
	})
	if node.Labels[v1.LabelHostname] != "node-1" || node.Labels[v1.LabelOSStable] != "linux" || node.Labels[v1.LabelArchStable] == "" {
		t.Errorf("labels %v", node.Labels)
	}
	if node.Spec.PodCIDR != "10.244.1.0/24" || len(node.Spec.PodCIDRs) != 1 {
		t.Errorf("pod CIDR %q %v", node.Spec.PodCIDR, node.Spec.PodCIDRs)
	}
	st := node.Status
	if c, a := st.Capacity[v1.ResourceCPU], st.Allocatable[v1.ResourceCPU]; c.String() != "2" || a.String() != "1900m" {
		t.Errorf("cpu capacity %s allocatable %s", c.String(), a.String())
	}
	if c, a := st.Capacity[v1.ResourceMemory], st.Allocatable[v1.ResourceMemory]; c.String() != "2Gi" || a.String() != "1920Mi" {
		t.Errorf("memory capacity %s allocatable %s", c.String(), a.String())
	}
	if p := st.Allocatable[v1.ResourcePods]; p.String() != "20" {
		t.Errorf("pods allocatable %s", p.String())
	}
	if len(st.Addresses) != 2 || st.Addresses[0] != (v1.NodeAddress{Type: v1.NodeInternalIP, Address: "10.89.0.21"}) {
		t.Errorf("addresses %v", st.Addresses)
	}
	if st.DaemonEndpoints.KubeletEndpoint.Port != 10250 || st.NodeInfo.KubeletVersion != "v1.37.2" ||
		st.NodeInfo.ContainerRuntimeVersion != "containerd://1.6.20" || st.NodeInfo.MachineID == "" {
		t.Errorf("endpoints %v, node info %+v", st.DaemonEndpoints, st.NodeInfo)
	}
	want := map[v1.NodeConditionType]v1.ConditionStatus{v1.NodeReady: v1.ConditionTrue, v1.NodeMemoryPressure: v1.ConditionFalse,
		v1.NodeDiskPressure: v1.ConditionFalse, v1.NodePIDPressure: v1.ConditionFalse}
	for _, c := range st.Conditions {
		if want[c.Type] == c.Status {
			delete(want, c.Type)
		}
	}
	if len(want) > 0 {
		t.Errorf("conditions %v lack %v", st.Conditions, want)
	}

	// Heartbeats: the lease is renewed and the Ready condition re-posted.
	lease0 := getLease(t, tk)
	if *lease0.Spec.HolderIdentity != "node-1" || *lease0.Spec.LeaseDurationSeconds != 5 ||
		len(lease0.OwnerReferences) != 1 || lease0.OwnerReferences[0].Name != "node-1" {
		t.Errorf("lease %+v", lease0)
	}
	ready0 := readyCond(node)
	time.Sleep(1100 * time.Millisecond) // the status goes through JSON: times in whole seconds
	node, _ = tk.client.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
	if r := readyCond(node); !r.LastHeartbeatTime.After(ready0.LastHeartbeatTime.Time) || r.LastTransitionTime.Unix() != ready0.LastTransitionTime.Unix() {
		t.Errorf("ready condition went from %+v to %+v", ready0, r)
	}
	if l := getLease(t, tk); !l.Spec.RenewTime.After(lease0.Spec.RenewTime.Time) {
		t.Errorf("lease not renewed: %v then %v", lease0.Spec.RenewTime, l.Spec.RenewTime)
	}
}

func TestNodeRegistrationKeepsExistingNode(t *testing.T) {
	tk := startAgent(t, func(tk *testAgent) {
		tk.client.CoreV1().Nodes().Create(context.Background(), &v1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{"keep": "me"}},
			Spec:       v1.NodeSpec{PodCIDR: "10.244.9.0/24", Taints: []v1.Taint{{Key: "k", Effect: v1.TaintEffectNoSchedule}}},
		}, metav1.CreateOptions{})
	})
	waitFor(t, "node updated", func() bool {
		n, err := tk.client.CoreV1().Nodes().Get(context.Background(), "node-1", metav1.GetOptions{})
		return err == nil && n.Labels[v1.LabelHostname] == "node-1" && readyCond(n).Status == v1.ConditionTrue &&
			n.Labels["keep"] == "me" && n.Spec.PodCIDR == "10.244.9.0/24" && len(n.Spec.Taints) == 1
	})
}

func getLease(t *testing.T, tk *testAgent) *coordinationLease {
	t.Helper()
	var l *coordinationLease
	waitFor(t, "lease", func() bool {
		var err error
		l, err = tk.client.CoordinationV1().Leases("kube-node-lease").Get(context.Background(), "node-1", metav1.GetOptions{})
		return err == nil && len(l.OwnerReferences) > 0
	})
	return l
}

func readyCond(n *v1.Node) v1.NodeCondition {
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeReady {
			return c
		}
	}
	return v1.NodeCondition{}
}

type coordinationLease = coordinationv1.Lease

// An extended resource another writer put in the Node's status (as the
// conformance suite's AddExtendedResource does) survives the heartbeats,
// and its removal is not undone.
func TestHeartbeatsKeepExtendedResources(t *testing.T) {
	tk := startAgent(t)
	ctx := context.Background()
	nodes := tk.client.CoreV1().Nodes()
	waitFor(t, "node registered", func() bool { _, err := nodes.Get(ctx, "node-1", metav1.GetOptions{}); return err == nil })
	const fake = v1.ResourceName("example.com/fakecpu")
	set := func(q *resource.Quantity) {
		n, err := nodes.Get(ctx, "node-1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if q == nil {
			delete(n.Status.Capacity, fake)
			delete(n.Status.Allocatable, fake)
		} else {
			n.Status.Capacity[fake], n.Status.Allocatable[fake] = *q, *q
		}
		if _, err := nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	q := resource.MustParse("1000")
	set(&q)
	time.Sleep(500 * time.Millisecond) // several heartbeats
	n, _ := nodes.Get(ctx, "node-1", metav1.GetOptions{})
	if c, a := n.Status.Capacity[fake], n.Status.Allocatable[fake]; c.Cmp(q) != 0 || a.Cmp(q) != 0 {
		t.Errorf("after heartbeats: capacity %s allocatable %s, want 1000", c.String(), a.String())
	}
	if c := n.Status.Capacity[v1.ResourceCPU]; c.String() != "2" {
		t.Errorf("cpu capacity %s", c.String())
	}
	set(nil)
	time.Sleep(500 * time.Millisecond)
	n, _ = nodes.Get(ctx, "node-1", metav1.GetOptions{})
	if _, ok := n.Status.Capacity[fake]; ok {
		t.Errorf("a removed extended resource came back: %v", n.Status.Capacity)
	}
}

// TestHeartbeatsGoThroughTheHeartbeatClient checks that the Lease and the
// Node's status are written through the heartbeat client (the kubelet's has
// no rate limit) and nothing of them through the main one.
func TestHeartbeatsGoThroughTheHeartbeatClient(t *testing.T) {
	tk := startAgent(t, func(tk *testAgent) {
		// The same objects as the main client, seen through another client.
		tk.heartbeat = &fake.Clientset{}
		tk.heartbeat.AddReactor("*", "*", k8stesting.ObjectReaction(tk.client.Tracker()))
	})
	heartbeats := func(c *fake.Clientset) (lease, status int) {
		for _, a := range c.Actions() {
			switch {
			case a.GetResource().Resource == "leases":
				lease++
			case a.GetResource().Resource == "nodes" && a.GetSubresource() == "status":
				status++
			}
		}
		return lease, status
	}
	waitFor(t, "lease and status written through the heartbeat client", func() bool {
		lease, status := heartbeats(tk.heartbeat)
		return lease >= 3 && status >= 2
	})
	if lease, status := heartbeats(tk.client); lease+status > 0 {
		t.Errorf("main client wrote %d lease and %d status requests", lease, status)
	}
}
