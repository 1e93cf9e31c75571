package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestMain(m *testing.M) {
	// The fake clientset's watchers panic when their channel is full; a
	// burst of 500 bindings must not trip that.
	watch.DefaultChanSize = 10000
	os.Exit(m.Run())
}

var podsResource = v1.SchemeGroupVersion.WithResource("pods")

// testCluster is a scheduler running against a fake clientset.
type testCluster struct {
	t      testing.TB
	client *fake.Clientset
	sched  *scheduler
	binds  atomic.Int64
}

// fastConfig has short backoffs and a flush period long enough that a test
// passing well within it proves an event, not the flush, did the work.
func fastConfig() Config {
	return Config{PodInitialBackoff: 20 * time.Millisecond, PodMaxBackoff: 200 * time.Millisecond, UnschedulableFlush: 20 * time.Second}
}

// newFakeCluster makes the fake clientset with objs and a scheduler on it,
// not started.
func newFakeCluster(t testing.TB, cfg Config, objs ...runtime.Object) *testCluster {
	if os.Getenv("SCHEDULER_TEST_LOG") != "" {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// Not NewClientset: its field-managed tracker builds a REST mapper on
	// every write, three quarters of the CPU of run500, which would then
	// measure the fake rather than the scheduler.
	tc := &testCluster{t: t, client: fake.NewSimpleClientset(objs...)} //nolint:staticcheck // see above
	tc.client.PrependReactor("create", "pods", tc.bindReactor)
	tc.sched = newScheduler(cfg, tc.client, tc.client)
	return tc
}

// newTestCluster is newFakeCluster with the informers started and synced
// but no scheduling loop: the test drives it.
func newTestCluster(t testing.TB, cfg Config, objs ...runtime.Object) (*testCluster, context.Context) {
	t.Helper()
	tc := newFakeCluster(t, cfg, objs...)
	ctx, cancel := context.WithCancel(context.Background())
	stop, err := tc.sched.start(ctx)
	t.Cleanup(func() {
		cancel()
		tc.sched.wg.Wait()
		stop()
	})
	if err != nil {
		t.Fatal(err)
	}
	return tc, ctx
}

// startTestCluster is newFakeCluster with the whole scheduler running, as
// Run runs it.
func startTestCluster(t testing.TB, cfg Config, objs ...runtime.Object) *testCluster {
	t.Helper()
	tc := newFakeCluster(t, cfg, objs...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tc.sched.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case <-tc.sched.synced:
	case <-time.After(10 * time.Second):
		t.Fatal("informers did not sync")
	}
	return tc
}

// bindReactor does what the API server does for pods/binding, which the
// fake does not implement: set spec.nodeName once, and PodScheduled=True.
func (tc *testCluster) bindReactor(action k8stesting.Action) (bool, runtime.Object, error) {
	if action.GetSubresource() != "binding" {
		return false, nil, nil
	}
	b := action.(k8stesting.CreateAction).GetObject().(*v1.Binding)
	obj, err := tc.client.Tracker().Get(podsResource, action.GetNamespace(), b.Name)
	if err != nil {
		return true, nil, err
	}
	p := obj.(*v1.Pod).DeepCopy()
	if (b.UID != "" && b.UID != p.UID) || p.Spec.NodeName != "" {
		return true, nil, apierrors.NewConflict(podsResource.GroupResource(), b.Name, fmt.Errorf("pod %s is already assigned to node %q", b.Name, p.Spec.NodeName))
	}
	p.Spec.NodeName = b.Target.Name
	p.Status.Conditions = []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionTrue}}
	if err := tc.client.Tracker().Update(podsResource, p, p.Namespace); err != nil {
		return true, nil, err
	}
	tc.binds.Add(1)
	return true, b, nil
}

func (tc *testCluster) create(obj runtime.Object) {
	tc.t.Helper()
	var err error
	ctx := context.Background()
	switch o := obj.(type) {
	case *v1.Pod:
		_, err = tc.client.CoreV1().Pods(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *v1.Node:
		_, err = tc.client.CoreV1().Nodes().Create(ctx, o, metav1.CreateOptions{})
	case *v1.PersistentVolumeClaim:
		_, err = tc.client.CoreV1().PersistentVolumeClaims(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	default:
		err = fmt.Errorf("cannot create %T", obj)
	}
	if err != nil {
		tc.t.Fatal(err)
	}
}

func (tc *testCluster) getPod(name string) *v1.Pod {
	tc.t.Helper()
	p, err := tc.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		tc.t.Fatal(err)
	}
	return p
}

// eventually polls cond every 10ms until it holds or within passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// events returns the events.k8s.io events about pod name.
func (tc *testCluster) events(name string) []eventsv1.Event {
	list, err := tc.client.EventsV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		tc.t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	return out
}

func (tc *testCluster) hasEvent(pod, eventType, reason, note string) bool {
	return slices.ContainsFunc(tc.events(pod), func(e eventsv1.Event) bool {
		return e.Type == eventType && e.Reason == reason && e.Note == note && e.ReportingController == v1.DefaultSchedulerName
	})
}

func TestSchedulerBindsPod(t *testing.T) {
	tc := startTestCluster(t, fastConfig(), node("node-1", "4", "8Gi", 110))
	tc.create(pod("web", "1", "1Gi"))
	eventually(t, 5*time.Second, "web is bound", func() bool { return tc.getPod("web").Spec.NodeName == "node-1" })
	eventually(t, 5*time.Second, "Scheduled event", func() bool {
		return tc.hasEvent("web", v1.EventTypeNormal, "Scheduled", "Successfully assigned default/web to node-1")
	})
	eventually(t, 5*time.Second, "no assumed pod left", func() bool { return tc.sched.cache.assumedCount() == 0 })
	if got := len(tc.sched.cache.podsOn("node-1")); got != 1 {
		t.Errorf("cache holds %d pods on node-1, want 1", got)
	}
}

func TestSchedulerIgnoresOtherSchedulers(t *testing.T) {
	tc := startTestCluster(t, fastConfig(), node("node-1", "4", "8Gi", 110))
	tc.create(pod("other", "1", "1Gi", func(p *v1.Pod) { p.Spec.SchedulerName = "my-scheduler" }))
	tc.create(pod("mine", "1", "1Gi"))
	eventually(t, 5*time.Second, "mine is bound", func() bool { return tc.getPod("mine").Spec.NodeName != "" })
	if n := tc.getPod("other").Spec.NodeName; n != "" {
		t.Errorf("a pod for another scheduler was bound to %q", n)
	}
}

// A burst of replicas must spread even though the informer has not yet
// shown the first bindings when the last replicas are decided: the
// assumed pods count.
func TestSchedulerSpreadsBurst(t *testing.T) {
	nodes := nodes3()
	tc := startTestCluster(t, fastConfig(), nodes[0], nodes[1], nodes[2])
	for i := range 6 {
		tc.create(pod(fmt.Sprint("web-", i), "100m", "128Mi", ownedBy("ReplicaSet", "web")))
	}
	eventually(t, 5*time.Second, "6 bindings", func() bool { return tc.binds.Load() == 6 })
	if got := tc.placement(); !equalCounts(got, map[string]int{"node-1": 2, "node-2": 2, "node-3": 2}) {
		t.Errorf("placement %v, want 2 per node", got)
	}
}

// placement counts the bound pods per node, as the API has them.
func (tc *testCluster) placement() map[string]int {
	tc.t.Helper()
	list, err := tc.client.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		tc.t.Fatal(err)
	}
	out := map[string]int{}
	for _, p := range list.Items {
		if p.Spec.NodeName != "" {
			out[p.Spec.NodeName]++
		}
	}
	return out
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func scheduledCondition(p *v1.Pod) *v1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == v1.PodScheduled {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// An impossible pod is reported as kube-scheduler reports it, parked
// without polling, and bound as soon as a node that fits appears.
func TestSchedulerUnschedulableUntilNodeAdded(t *testing.T) {
	cfg := fastConfig()
	tc := startTestCluster(t, cfg, node("node-1", "1", "8Gi", 110))
	tc.create(pod("big", "4", "1Gi"))

	const msg = "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
	eventually(t, 5*time.Second, "PodScheduled=False/Unschedulable", func() bool {
		c := scheduledCondition(tc.getPod("big"))
		return c != nil && c.Status == v1.ConditionFalse && c.Reason == v1.PodReasonUnschedulable && c.Message == msg
	})
	eventually(t, 5*time.Second, "FailedScheduling event", func() bool {
		return tc.hasEvent("big", v1.EventTypeWarning, "FailedScheduling", msg)
	})
	// Parked, not polled: several backoff periods later it was tried once.
	time.Sleep(10 * cfg.PodInitialBackoff)
	if got := tc.sched.queue.Len(); got[placeParked] != 1 || tc.sched.queue.pods["default/big"].attempts != 1 {
		t.Fatalf("queue %v, attempts %d; want big parked after one attempt", got, tc.sched.queue.pods["default/big"].attempts)
	}
	// Our own status patch came back through the informer without waking it.
	if got := tc.statusPatches("big"); got != 1 {
		t.Errorf("%d status patches, want 1", got)
	}

	added := time.Now()
	tc.create(node("node-2", "8", "8Gi", 110))
	eventually(t, cfg.UnschedulableFlush/4, "big bound to node-2 after the node was added", func() bool {
		return tc.getPod("big").Spec.NodeName == "node-2"
	})
	t.Logf("bound %v after node-2 was added (flush period %v)", time.Since(added).Round(time.Millisecond), cfg.UnschedulableFlush)
}

func (tc *testCluster) statusPatches(name string) int {
	n := 0
	for _, a := range tc.client.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok && a.GetSubresource() == "status" && p.GetName() == name {
			n++
		}
	}
	return n
}

// A parked pod is retried when a pod holding the resources it needs goes.
func TestSchedulerRetriesWhenPodDeleted(t *testing.T) {
	tc := startTestCluster(t, fastConfig(), node("node-1", "2", "8Gi", 110), pod("hog", "2", "", on("node-1")))
	tc.create(pod("next", "2", ""))
	eventually(t, 5*time.Second, "next parked", func() bool { return tc.sched.queue.Len()[placeParked] == 1 })
	if err := tc.client.CoreV1().Pods("default").Delete(context.Background(), "hog", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "next bound", func() bool { return tc.getPod("next").Spec.NodeName == "node-1" })
}

// A parked pod whose own spec changes is retried at once.
func TestSchedulerRetriesWhenPodSpecChanges(t *testing.T) {
	tc := startTestCluster(t, fastConfig(), node("node-1", "4", "8Gi", 110, withTaint("dedicated", "db", v1.TaintEffectNoSchedule)))
	tc.create(pod("db", "1", ""))
	eventually(t, 5*time.Second, "db parked", func() bool { return tc.sched.queue.Len()[placeParked] == 1 })
	p := tc.getPod("db")
	p.Spec.Tolerations = []v1.Toleration{{Key: "dedicated", Operator: v1.TolerationOpEqual, Value: "db", Effect: v1.TaintEffectNoSchedule}}
	if _, err := tc.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "db bound", func() bool { return tc.getPod("db").Spec.NodeName == "node-1" })
}

// A pod deleted while it waits in the queue is dropped, whether the
// deletion reaches the queue first or the scheduling loop pops it first.
func TestSchedulerDropsPodDeletedWhileQueued(t *testing.T) {
	tc, ctx := newTestCluster(t, fastConfig(), node("node-1", "4", "8Gi", 110))
	tc.create(pod("gone", "1", ""))
	eventually(t, 5*time.Second, "gone queued", func() bool { return tc.sched.queue.Len()[placeActive] == 1 })
	if err := tc.client.CoreV1().Pods("default").Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "gone left the queue", func() bool { return len(tc.sched.queue.Len()) == 0 })

	// The loop popped it before the deletion was seen: the lister decides.
	tc.sched.queue.Add("default/gone", 0)
	key, tk, _ := tc.sched.queue.Pop(ctx)
	tc.sched.scheduleOne(ctx, key, tk)
	tc.sched.wg.Wait()
	if got := tc.sched.queue.Len(); len(got) != 0 {
		t.Errorf("queue %v, want empty", got)
	}
	if n := tc.binds.Load(); n != 0 {
		t.Errorf("%d bindings for a deleted pod", n)
	}
	if got := len(tc.sched.cache.podsOn("node-1")); got != 0 {
		t.Errorf("cache holds %d pods on node-1", got)
	}
}

// A failed binding undoes the assumption and retries after backoff.
func TestSchedulerRetriesFailedBinding(t *testing.T) {
	var failures atomic.Int64
	tc, ctx := newTestCluster(t, fastConfig(), node("node-1", "4", "8Gi", 110))
	tc.client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "binding" && failures.Add(1) == 1 {
			return true, nil, apierrors.NewServiceUnavailable("etcd is away")
		}
		return false, nil, nil
	})
	tc.sched.wg.Go(func() { tc.sched.loop(ctx) })
	tc.create(pod("web", "1", ""))
	eventually(t, 5*time.Second, "web bound on the second try", func() bool { return tc.getPod("web").Spec.NodeName == "node-1" })
	if n := failures.Load(); n != 2 {
		t.Errorf("%d binding attempts, want 2", n)
	}
	if !tc.hasEvent("web", v1.EventTypeWarning, "FailedScheduling", "Binding rejected: etcd is away") {
		t.Errorf("no FailedScheduling event for the failed binding: %v", tc.events("web"))
	}
}

// run500 schedules 500 pods of 10 ReplicaSets on 10 nodes and returns how
// long it took until the last binding: from the informers' sync when the
// pods exist before the scheduler starts (preloaded), else from the first
// of 500 creations made while it runs, as a Deployment's would be.
func run500(tb testing.TB, preloaded bool) time.Duration {
	var nodes, pods []runtime.Object
	for i := range 10 {
		nodes = append(nodes, node(fmt.Sprintf("node-%02d", i), "32", "64Gi", 110))
	}
	for i := range 500 {
		rs := fmt.Sprint("app-", i%10)
		pods = append(pods, pod(fmt.Sprintf("pod-%03d", i), "100m", "128Mi", labelled("app", rs), ownedBy("ReplicaSet", rs)))
	}
	objs := nodes
	if preloaded {
		objs = append(objs, pods...)
	}
	tc, ctx := newTestCluster(tb, Config{}, objs...)
	start := time.Now()
	tc.sched.wg.Go(func() { tc.sched.loop(ctx) })
	if !preloaded {
		for _, p := range pods {
			tc.create(p)
		}
	}
	eventually(tb, time.Minute, "500 bindings", func() bool { return tc.binds.Load() == 500 })
	elapsed := time.Since(start)
	for n, count := range tc.placement() {
		if count != 50 {
			tb.Errorf("%s holds %d pods, want 50", n, count)
		}
	}
	return elapsed
}

// TestSchedulerThroughput500 reports the throughput; it asserts placement,
// not time.
func TestSchedulerThroughput500(t *testing.T) {
	if testing.Short() {
		t.Skip("schedules 500 pods twice")
	}
	for _, preloaded := range []bool{true, false} {
		d := run500(t, preloaded)
		t.Logf("500 pods on 10 nodes, fake clientset, pods preloaded %v: %v, %.0f pods/s",
			preloaded, d.Round(time.Millisecond), 500/d.Seconds())
	}
}

func BenchmarkRun500Pods(b *testing.B) {
	for _, preloaded := range []bool{true, false} {
		b.Run(fmt.Sprint("preloaded=", preloaded), func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				total += run500(b, preloaded)
			}
			b.ReportMetric(float64(500*b.N)/total.Seconds(), "pods/s")
		})
	}
}
