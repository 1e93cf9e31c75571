package nodelifecycle

import (
	"context"
	"fmt"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
)

const grace = 10 * time.Second

// lab is a fake cluster with three healthy nodes driven one Monitor pass at
// a time on a fake clock; stores are refreshed from the fake API before
// every pass.
type lab struct {
	t       *testing.T
	ctx     context.Context
	clock   *clocktesting.FakeClock
	client  *fake.Clientset
	factory informers.SharedInformerFactory
	c       *Controller
	alive   map[string]bool
}

func newLab(t *testing.T, nodes int) *lab {
	l := &lab{t: t, ctx: context.Background(), clock: clocktesting.NewFakeClock(t0), client: fake.NewClientset(), alive: map[string]bool{}}
	for i := 1; i <= nodes; i++ {
		name := fmt.Sprintf("node-%d", i)
		l.create(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.NewTime(t0)},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: metav1.NewTime(t0)},
		}}})
		l.create(&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: LeaseNamespace},
			Spec: coordinationv1.LeaseSpec{RenewTime: &metav1.MicroTime{Time: t0}}})
		l.alive[name] = true
	}
	l.start(Options{MonitorPeriod: time.Second, GracePeriod: grace, StartupGracePeriod: 2 * grace})
	l.refresh()
	return l
}

// start gives the lab a new controller with fresh informers, as a restart.
func (l *lab) start(opts Options) {
	l.factory = informers.NewSharedInformerFactory(l.client, 0)
	l.c = newController(l.t, deps.Deps{Client: l.client, Factory: l.factory, Clock: l.clock}, opts)
}

func newController(t *testing.T, d deps.Deps, opts Options) *Controller {
	t.Helper()
	c, err := New(d, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (l *lab) create(o any) {
	var err error
	switch v := o.(type) {
	case *corev1.Node:
		_, err = l.client.CoreV1().Nodes().Create(l.ctx, v, metav1.CreateOptions{})
	case *coordinationv1.Lease:
		_, err = l.client.CoordinationV1().Leases(v.Namespace).Create(l.ctx, v, metav1.CreateOptions{})
	case *corev1.Pod:
		_, err = l.client.CoreV1().Pods(v.Namespace).Create(l.ctx, v, metav1.CreateOptions{})
	}
	if err != nil {
		l.t.Fatal(err)
	}
}

// refresh copies the fake API into the informer stores (and fires no handlers;
// Monitor observes the stores itself).
func (l *lab) refresh() {
	nodes, _ := l.client.CoreV1().Nodes().List(l.ctx, metav1.ListOptions{})
	leases, _ := l.client.CoordinationV1().Leases("").List(l.ctx, metav1.ListOptions{})
	pods, _ := l.client.CoreV1().Pods("").List(l.ctx, metav1.ListOptions{})
	replace(l.t, l.factory.Core().V1().Nodes().Informer().GetStore(), nodes.Items)
	replace(l.t, l.factory.Coordination().V1().Leases().Informer().GetStore(), leases.Items)
	replace(l.t, l.factory.Core().V1().Pods().Informer().GetStore(), pods.Items)
}

func replace[T any](t *testing.T, store cache.Store, items []T) {
	objs := make([]any, 0, len(items))
	for i := range items {
		objs = append(objs, &items[i])
	}
	if err := store.Replace(objs, ""); err != nil {
		t.Fatal(err)
	}
}

// step advances the clock, renews the Leases of live nodes and runs a pass.
func (l *lab) step(d time.Duration) {
	l.clock.Step(d)
	for name, ok := range l.alive {
		if !ok {
			continue
		}
		lease, _ := l.client.CoordinationV1().Leases(LeaseNamespace).Get(l.ctx, name, metav1.GetOptions{})
		lease.Spec.RenewTime = &metav1.MicroTime{Time: l.clock.Now()}
		l.client.CoordinationV1().Leases(LeaseNamespace).Update(l.ctx, lease, metav1.UpdateOptions{})
	}
	l.refresh()
	l.c.Monitor(l.ctx)
}

// run steps one second at a time for d.
func (l *lab) run(d time.Duration) {
	for i := time.Duration(0); i < d; i += time.Second {
		l.step(time.Second)
	}
}

func (l *lab) node(name string) *corev1.Node {
	n, err := l.client.CoreV1().Nodes().Get(l.ctx, name, metav1.GetOptions{})
	if err != nil {
		l.t.Fatal(err)
	}
	return n
}

func (l *lab) ready(name string) corev1.NodeCondition { return *readyCondition(l.node(name)) }

func (l *lab) podExists(name string) bool {
	_, err := l.client.CoreV1().Pods("default").Get(l.ctx, name, metav1.GetOptions{})
	return err == nil
}

func (l *lab) podReady(name string) corev1.ConditionStatus {
	p, _ := l.client.CoreV1().Pods("default").Get(l.ctx, name, metav1.GetOptions{})
	return p.Status.Conditions[podReadyIndex(p)].Status
}

func (l *lab) addPod(name, node string, tols ...corev1.Toleration) {
	l.create(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: k8stypes.UID("uid-" + name), CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Spec:   corev1.PodSpec{NodeName: node, Tolerations: tols},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}})
}

// kubeletPostsReady is the kubelet of a node coming back.
func (l *lab) kubeletPostsReady(name string) {
	n := l.node(name)
	now := metav1.NewTime(l.clock.Now())
	for i := range n.Status.Conditions {
		n.Status.Conditions[i].LastHeartbeatTime = now
	}
	n.Status.Conditions[0].Status, n.Status.Conditions[0].Reason = corev1.ConditionTrue, "KubeletReady"
	if _, err := l.client.CoreV1().Nodes().UpdateStatus(l.ctx, n, metav1.UpdateOptions{}); err != nil {
		l.t.Fatal(err)
	}
	l.alive[name] = true
}

func (l *lab) writes() []string {
	var out []string
	for _, a := range l.client.Actions() {
		switch a.GetVerb() {
		case "get", "list", "watch":
			continue
		}
		if a.GetResource().Resource == "leases" || a.GetResource().Resource == "pods" && a.GetVerb() == "create" {
			continue // the test's own doing
		}
		out = append(out, a.GetVerb()+" "+a.GetResource().Resource+"/"+a.GetSubresource())
	}
	return out
}

func TestDeadNodeIsMarkedTaintedAndDrained(t *testing.T) {
	l := newLab(t, 3)
	l.addPod("tolerant", "node-3", tolerate(corev1.TaintNodeUnreachable, ptr.To[int64](10)))
	l.addPod("intolerant", "node-3")
	l.addPod("forever", "node-3", tolerate(corev1.TaintNodeUnreachable, nil))
	l.addPod("elsewhere", "node-1")
	l.alive["node-3"] = false

	l.run(grace)
	if r := l.ready("node-3"); r.Status != corev1.ConditionTrue {
		t.Fatalf("node-3 judged before its grace ran out: %+v", r)
	}
	l.run(2 * time.Second)
	r := l.ready("node-3")
	if r.Status != corev1.ConditionUnknown || r.Reason != ReasonStatusUnknown || r.Message != MessageStatusUnknown {
		t.Fatalf("node-3 Ready: %+v", r)
	}
	if !r.LastHeartbeatTime.Time.Equal(t0) {
		t.Errorf("heartbeat time rewritten: %v", r.LastHeartbeatTime)
	}
	for _, c := range l.node("node-3").Status.Conditions {
		if c.Status != corev1.ConditionUnknown {
			t.Errorf("condition %s still %s", c.Type, c.Status)
		}
	}
	taints := l.node("node-3").Spec.Taints
	if !hasTaint(taints, unreachableNoSchedule) || !hasTaint(taints, unreachableNoExecute) {
		t.Fatalf("node-3 taints: %+v", taints)
	}
	if l.podReady("tolerant") != corev1.ConditionFalse || l.podReady("elsewhere") != corev1.ConditionTrue {
		t.Errorf("pod readiness: tolerant %s, elsewhere %s", l.podReady("tolerant"), l.podReady("elsewhere"))
	}
	l.run(time.Second)
	if l.podExists("intolerant") {
		t.Error("pod without toleration not evicted at once")
	}
	if !l.podExists("tolerant") {
		t.Error("tolerant pod evicted before its tolerationSeconds")
	}
	l.run(10 * time.Second)
	if l.podExists("tolerant") {
		t.Error("tolerant pod not evicted after its tolerationSeconds")
	}
	if !l.podExists("forever") || !l.podExists("elsewhere") {
		t.Error("pod with unbounded toleration or on a healthy node evicted")
	}
	for _, n := range []string{"node-1", "node-2"} {
		if len(l.node(n).Spec.Taints) != 0 || l.ready(n).Status != corev1.ConditionTrue {
			t.Errorf("healthy %s touched", n)
		}
	}

	// The node comes back: its kubelet posts Ready, the taints go.
	l.kubeletPostsReady("node-3")
	l.run(2 * time.Second)
	if ts := l.node("node-3").Spec.Taints; len(ts) != 0 {
		t.Fatalf("taints left after healing: %+v", ts)
	}
	if l.c.Mode() != Normal {
		t.Errorf("mode %s", l.c.Mode())
	}
}

func TestNotReadyNodeGetsNotReadyTaints(t *testing.T) {
	l := newLab(t, 3)
	n := l.node("node-2")
	n.Status.Conditions[0].Status = corev1.ConditionFalse
	n.Status.Conditions[0].LastHeartbeatTime = metav1.NewTime(t0.Add(time.Second))
	l.client.CoreV1().Nodes().UpdateStatus(l.ctx, n, metav1.UpdateOptions{})
	l.run(2 * time.Second)
	ts := l.node("node-2").Spec.Taints
	if !hasTaint(ts, notReadyNoSchedule) || !hasTaint(ts, notReadyNoExecute) || hasTaint(ts, unreachableNoExecute) {
		t.Fatalf("taints: %+v", ts)
	}
	if l.ready("node-2").Status != corev1.ConditionFalse {
		t.Error("a node's own False status was overwritten")
	}
}

// TestControlPlaneOutageEvictsNothing is claim 16: every heartbeat stops at
// once (API or etcd away) for far longer than the grace period and the
// tolerations; when heartbeats resume, nothing has been marked, tainted or
// evicted, and nodes whose kubelets are slower to come back get a fresh
// grace period.
func TestControlPlaneOutageEvictsNothing(t *testing.T) {
	l := newLab(t, 3)
	l.addPod("web", "node-2", tolerate(corev1.TaintNodeUnreachable, ptr.To[int64](10)))
	l.addPod("bare", "node-3")
	l.run(3 * time.Second)
	before := len(l.writes())

	for n := range l.alive {
		l.alive[n] = false
	}
	l.run(60 * time.Second)
	if l.c.Mode() != Blind {
		t.Fatalf("mode during outage: %s", l.c.Mode())
	}
	l.alive["node-1"] = true
	l.run(time.Second)
	if l.c.Mode() != Normal {
		t.Fatalf("mode after outage: %s", l.c.Mode())
	}
	l.alive["node-2"], l.alive["node-3"] = true, true
	l.run(grace)
	if w := l.writes()[before:]; len(w) != 0 {
		t.Fatalf("writes caused by the outage: %v", w)
	}
	if !l.podExists("web") || !l.podExists("bare") || l.podReady("web") != corev1.ConditionTrue {
		t.Fatal("pod evicted or marked because of the outage")
	}
}

func TestSlowKubeletAfterOutageGetsFreshGrace(t *testing.T) {
	l := newLab(t, 3)
	for n := range l.alive {
		l.alive[n] = false
	}
	l.run(30 * time.Second)
	l.alive["node-1"], l.alive["node-2"] = true, true
	l.run(grace - time.Second) // node-3's kubelet is late, but within a grace period
	if l.ready("node-3").Status != corev1.ConditionTrue {
		t.Fatal("node-3 judged on heartbeats missed during the outage")
	}
	l.run(3 * time.Second) // now it is really silent
	if l.ready("node-3").Status != corev1.ConditionUnknown {
		t.Fatal("node-3 silent beyond a fresh grace period was not marked")
	}
}

func TestAllNodesDownIsFullDisruption(t *testing.T) {
	l := newLab(t, 3)
	// Every kubelet reports NotReady (e.g. the network is down on all nodes);
	// they keep posting, so the controller is not blind.
	for i := 1; i <= 3; i++ {
		n := l.node(fmt.Sprintf("node-%d", i))
		n.Status.Conditions[0].Status = corev1.ConditionFalse
		l.client.CoreV1().Nodes().UpdateStatus(l.ctx, n, metav1.UpdateOptions{})
	}
	l.addPod("bare", "node-1")
	l.run(30 * time.Second)
	if l.c.Mode() != FullDisruption {
		t.Fatalf("mode %s", l.c.Mode())
	}
	if len(l.node("node-1").Spec.Taints) != 0 || !l.podExists("bare") {
		t.Fatal("tainted or evicted in full disruption")
	}
}

func TestStartupGivesEveryNodeAGracePeriod(t *testing.T) {
	l := newLab(t, 3)
	// The controller starts long after the last renewals it can see (it was
	// down); nodes are judged only a grace period after it first saw them.
	l.clock.Step(time.Hour)
	l.start(Options{MonitorPeriod: time.Second, GracePeriod: grace})
	l.alive["node-3"] = false
	l.run(grace - time.Second)
	if l.ready("node-3").Status != corev1.ConditionTrue {
		t.Fatal("node judged on renewals the controller never had a chance to see")
	}
	l.run(3 * time.Second)
	if l.ready("node-3").Status != corev1.ConditionUnknown {
		t.Fatal("silent node not marked after the grace period")
	}
}

func TestUserNoExecuteTaintEvictsEvenWhenDisrupted(t *testing.T) {
	l := newLab(t, 1)
	n := l.node("node-1")
	n.Spec.Taints = []corev1.Taint{{Key: "maintenance", Effect: corev1.TaintEffectNoExecute}}
	l.client.CoreV1().Nodes().Update(l.ctx, n, metav1.UpdateOptions{})
	l.addPod("bare", "node-1")
	l.addPod("patient", "node-1", tolerate("maintenance", ptr.To[int64](5)))
	l.alive["node-1"] = false
	l.run(2 * time.Second)
	if l.podExists("bare") || !l.podExists("patient") {
		t.Fatal("untolerated pod not evicted at once")
	}
	l.run(20 * time.Second) // blind by now
	if l.c.Mode() != Blind || l.podExists("patient") {
		t.Fatalf("mode %s; patient still there: %v", l.c.Mode(), l.podExists("patient"))
	}
}

func TestModeThresholds(t *testing.T) {
	c := newController(t, deps.Deps{Client: fake.NewClientset(), Factory: informers.NewSharedInformerFactory(fake.NewClientset(), 0), Clock: clocktesting.NewFakeClock(t0)}, Options{})
	now := t0.Add(time.Second)
	cases := []struct {
		judged, unhealthy int
		want              Mode
	}{
		{3, 2, Normal}, {3, 3, FullDisruption}, {5, 3, PartialDisruption}, {10, 3, Normal}, {0, 0, Normal}, {6, 4, PartialDisruption},
	}
	for _, tc := range cases {
		if got := c.modeFor(tc.judged, tc.unhealthy, now); got != tc.want {
			t.Errorf("%d/%d unhealthy: %s, want %s", tc.unhealthy, tc.judged, got, tc.want)
		}
	}
	if got := c.modeFor(3, 0, t0.Add(DefaultGracePeriod)); got != Blind {
		t.Errorf("no heartbeat for a grace period: %s", got)
	}
}

// TestStaggeredOutageEvictsNothing: kubelets renew on their own cycles, so
// when the control plane goes away their last renewals are seconds apart and
// the first node looks silent while the others still look fresh. The
// controller must see that no heartbeat at all arrives and judge nobody.
func TestStaggeredOutageEvictsNothing(t *testing.T) {
	l := newLab(t, 3)
	l.addPod("bare", "node-1")
	l.run(3 * time.Second)
	before := len(l.writes())
	l.alive["node-1"] = false
	l.run(2 * time.Second)
	l.alive["node-2"] = false
	l.run(2 * time.Second)
	l.alive["node-3"] = false
	l.run(40 * time.Second)
	for n := range l.alive {
		l.alive[n] = true
	}
	l.run(grace)
	if w := l.writes()[before:]; len(w) != 0 || !l.podExists("bare") {
		t.Fatalf("writes caused by the outage: %v", w)
	}
}

func TestReadyNodeWithOurTaintAsksForAPassAtOnce(t *testing.T) {
	c := newController(t, deps.Deps{Client: fake.NewClientset(), Factory: informers.NewSharedInformerFactory(fake.NewClientset(), 0), Clock: clocktesting.NewFakeClock(t0)}, Options{})
	node := func(ready corev1.ConditionStatus, taints ...corev1.Taint) *corev1.Node {
		return &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "n"},
			Spec:       corev1.NodeSpec{Taints: taints},
			Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}},
		}
	}
	kicked := func() bool {
		select {
		case <-c.kick:
			return true
		default:
			return false
		}
	}
	for _, tc := range []struct {
		name string
		node *corev1.Node
		want bool
	}{
		{"ready, registered with the API server's not-ready taint", node(corev1.ConditionTrue, notReadyNoSchedule), true},
		{"ready, untainted", node(corev1.ConditionTrue), false},
		{"ready, someone else's taint", node(corev1.ConditionTrue, corev1.Taint{Key: "gpu", Effect: corev1.TaintEffectNoSchedule}), false},
		{"not ready, tainted", node(corev1.ConditionFalse, notReadyNoSchedule), false},
	} {
		c.observeNode(tc.node)
		if got := kicked(); got != tc.want {
			t.Errorf("%s: kicked %v, want %v", tc.name, got, tc.want)
		}
	}
}
