package pods

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kinns/kinns/kubelet/config"
	"github.com/kinns/kinns/kubelet/records"
	"github.com/kinns/kinns/kubelet/runtime"
)

// testKubelet is a kubelet on fakes: an API (fake clientset), a runtime and
// a network in memory.
type testKubelet struct {
	k      *Manager
	client *fake.Clientset
	rt     *fakeRuntime
	net    *fakeNetwork
	spawn  func(func()) // nil: the kubelet's own
	stop   func()
	// config, if set by a setup func, changes the kubelet's configuration.
	config func(*config.Config)
}

func testConfig(t testing.TB) config.Config {
	cfg := config.Config{
		NodeName: "node-1", NodeIP: "10.89.0.21", PodCIDR: "10.244.1.0/24",
		ContainerdAddress: "/nonexistent", ContainerdNamespace: "t-node-1",
		CgroupParent: "/kinns/t/node-1", StateDir: t.TempDir(), LogDir: t.TempDir(),
		Capacity: v1.ResourceList{v1.ResourceCPU: resource.MustParse("2"), v1.ResourceMemory: resource.MustParse("2Gi"), v1.ResourcePods: resource.MustParse("20")},
		Reserved: v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m"), v1.ResourceMemory: resource.MustParse("128Mi")},
		Timings:  config.TimingsFor(config.ProfileFast),
		Log:      testLog(t),
	}
	cfg.BackoffInitial, cfg.BackoffMax = 200*time.Millisecond, 800*time.Millisecond
	cfg.StatusUpdateFrequency, cfg.LeaseRenewInterval = 100*time.Millisecond, 100*time.Millisecond
	cfg.SyncInterval = 300 * time.Millisecond
	return cfg
}

func testLog(t testing.TB) *slog.Logger {
	if os.Getenv("KUBELET_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

func startTestKubelet(t *testing.T, setup ...func(*testKubelet)) *testKubelet {
	t.Helper()
	cfg := testConfig(t)
	cfg.Default()
	tk := &testKubelet{client: fake.NewClientset(), rt: newFakeRuntime(), net: newFakeNetwork()}
	for _, f := range setup {
		f(tk)
	}
	if tk.config != nil {
		tk.config(&cfg)
	}
	createNode(t, tk.client, cfg.NodeName)
	tk.k = New(cfg, Deps{Client: tk.client, Runtime: tk.rt, Network: tk.net, spawn: tk.spawn})
	tk.rt.onExit = tk.k.ContainerExited
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tk.k.Run(ctx) }()
	var once sync.Once
	tk.stop = func() { once.Do(func() { stopKubelet(t, cancel, done) }) }
	t.Cleanup(tk.stop)
	return tk
}

func stopKubelet(t *testing.T, cancel func(), done chan error) {
	{
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("kubelet run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("kubelet did not stop")
		}
	}
}

func testPod(name string, mut ...func(*v1.Pod)) *v1.Pod {
	grace := int64(3)
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: v1.PodSpec{
			NodeName:                      "node-1",
			RestartPolicy:                 v1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: &grace,
			Containers: []v1.Container{{
				Name: "app", Image: "kinns.local/testapp:latest", ImagePullPolicy: v1.PullIfNotPresent,
			}},
		},
		Status: v1.PodStatus{
			Phase:      v1.PodPending,
			Conditions: []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionTrue}},
		},
	}
	for _, f := range mut {
		f(p)
	}
	return p
}

func (tk *testKubelet) create(t *testing.T, pod *v1.Pod) {
	t.Helper()
	if _, err := tk.client.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitPod polls the API until ok holds for the pod, and returns it.
func (tk *testKubelet) waitPod(t *testing.T, name string, what string, ok func(*v1.Pod) bool) *v1.Pod {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var p *v1.Pod
	for time.Now().Before(deadline) {
		var err error
		p, err = tk.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && ok(p) {
			return p
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("pod %s never %s; last status: %+v", name, what, p.Status)
	return nil
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

func podIsReady(p *v1.Pod) bool {
	c := findCondition(p.Status.Conditions, v1.PodReady)
	return p.Status.Phase == v1.PodRunning && c != nil && c.Status == v1.ConditionTrue
}

func TestPodRunsAndBecomesReady(t *testing.T) {
	tk := startTestKubelet(t)
	start := time.Now()
	tk.create(t, testPod("web", func(p *v1.Pod) {
		c := &p.Spec.Containers[0]
		c.Args = []string{"serve", "--hostname=$(POD_NAME)", "$$(POD_NAME)"}
		c.Env = []v1.EnvVar{
			{Name: "POD_NAME", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "POD_IP", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "NODE", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
			{Name: "GREETING", Value: "hi $(POD_NAME) on $(NODE)"},
		}
		c.Resources.Limits = v1.ResourceList{v1.ResourceCPU: resource.MustParse("500m"), v1.ResourceMemory: resource.MustParse("64Mi")}
	}))
	p := tk.waitPod(t, "web", "ready", podIsReady)
	t.Logf("bound to Ready (fakes): %s", time.Since(start).Round(time.Millisecond))

	st := p.Status
	if st.PodIP != "10.244.1.2" || st.HostIP != "10.89.0.21" || len(st.PodIPs) != 1 || st.StartTime == nil {
		t.Errorf("addresses: podIP %q hostIP %q podIPs %v start %v", st.PodIP, st.HostIP, st.PodIPs, st.StartTime)
	}
	cs := st.ContainerStatuses[0]
	if cs.State.Running == nil || !cs.Ready || cs.Started == nil || !*cs.Started || cs.RestartCount != 0 ||
		cs.ContainerID != "containerd://"+(runtime.Spec{Pod: runtime.PodRef{UID: "uid-web", Name: "web"}, Name: "app"}).ID() || cs.ImageID == "" {
		t.Errorf("container status %+v", cs)
	}
	for _, ct := range []v1.PodConditionType{v1.PodReadyToStartContainers, v1.PodInitialized, v1.ContainersReady, v1.PodReady, v1.PodScheduled} {
		if c := findCondition(st.Conditions, ct); c == nil || c.Status != v1.ConditionTrue {
			t.Errorf("condition %s: %+v", ct, c)
		}
	}

	run, _ := tk.rt.running("app")
	s := tk.rt.specs[run.ID]
	want := map[string]bool{"POD_NAME=web": true, "POD_IP=10.244.1.2": true, "NODE=node-1": true, "GREETING=hi web on node-1": true}
	for _, e := range s.Env {
		delete(want, e)
	}
	if len(want) > 0 {
		t.Errorf("env %q lacks %v", s.Env, want)
	}
	if got := s.Args; len(got) != 3 || got[1] != "--hostname=web" || got[2] != "$(POD_NAME)" {
		t.Errorf("args %q", got)
	}
	if s.Hostname != "web" || s.NetnsPath != "/run/netns/t-node-1-"+tk.k.netnsName("uid-web")[len("t-node-1-"):] ||
		s.CgroupPath != "/kinns/t/node-1/poduid-web/"+run.ID || s.Resources.CPUQuota != 50000 || s.Resources.MemoryLimit != 64<<20 {
		t.Errorf("spec %+v", s)
	}
	if ns, ok := records.NetnsOf(tk.k.cfg.StateDir, "uid-web"); !ok || ns != tk.k.netnsName("uid-web") {
		t.Errorf("PodNetnsOf = %q, %v", ns, ok)
	}
	if _, ok := records.NetnsOf(tk.k.cfg.StateDir, "uid-nope"); ok {
		t.Error("PodNetnsOf found a namespace for a pod it never ran")
	}
	if ns := records.Netns(tk.k.cfg.StateDir); len(ns) != 1 || ns[0] != tk.k.netnsName("uid-web") {
		t.Errorf("recorded pod namespaces %v", ns)
	}
	if want := tk.k.cfg.LogDir + "/default_web_uid-web/app/0.log"; s.LogPath != want {
		t.Errorf("log path %s, want %s", s.LogPath, want)
	}
}

// headStart is a spawn that lets a new pod worker run alone for a moment
// before its creator goes on: the interleaving in which a worker started
// before it was handed its pod used to sync "no pod", clean up and end,
// leaving the pod Pending for good. goFn starts the goroutine.
func headStart(goFn func(func())) func(f func()) {
	return func(f func()) {
		done := make(chan struct{})
		goFn(func() {
			defer close(done)
			f()
		})
		select {
		case <-done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestWorkerStartsWithItsPod(t *testing.T) {
	tk := startTestKubelet(t, func(tk *testKubelet) {
		// The kubelet's own WaitGroup, so that stopping it waits for them.
		tk.spawn = headStart(func(f func()) { tk.k.wg.Go(f) })
	})
	tk.create(t, testPod("first"))
	tk.waitPod(t, "first", "running", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning })
}

func TestFinishedWorkerWithPendingUpdateSyncsAgain(t *testing.T) {
	k := New(testConfig(t), Deps{Client: fake.NewClientset(), Runtime: newFakeRuntime(), Network: newFakeNetwork(), spawn: func(func()) {}})
	pod := testPod("late")
	k.deliver(pod.UID, podRefOf(pod), func(w *podWorker) { w.setPod(pod) })
	w := k.workers[pod.UID]
	if k.retire(w) {
		t.Fatal("a worker with an unread update retired")
	}
	<-w.kick // the worker's next sync reads it
	if !k.retire(w) || k.workers[pod.UID] != nil {
		t.Fatal("an idle finished worker did not retire")
	}
	k.deliver(pod.UID, podRefOf(pod), func(w *podWorker) { w.setPod(pod) })
	if nw := k.workers[pod.UID]; nw == nil || nw == w {
		t.Fatal("an update after retirement did not get a new worker")
	}
}

// TestBurstOfPodsAllRun creates pods as fast as the API takes them, as a
// ReplicaSet scaled up does, and wants every one Running.
func TestBurstOfPodsAllRun(t *testing.T) {
	const n = 300
	// The plain object tracker: the field-managed one that fake.NewClientset
	// uses builds a REST mapper per call, which would take most of the time.
	// Its watches are unbounded: the tracker's hold 100 events.
	tk := startTestKubelet(t, func(tk *testKubelet) {
		tk.client = fake.NewSimpleClientset() //nolint:staticcheck // see above
		unboundedWatches(tk.client)
	})

	for i := range n {
		tk.create(t, testPod(fmt.Sprintf("burst-%03d", i)))
	}
	deadline := time.Now().Add(30 * time.Second)
	var pending []string
	for time.Now().Before(deadline) {
		pending = pending[:0]
		list, err := tk.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range list.Items {
			if p.Status.Phase != v1.PodRunning {
				pending = append(pending, p.Name)
			}
		}
		if len(pending) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%d of %d pods never Running: %v", len(pending), n, pending)
}

// TestServerMayAskBeforePodsAreWatched: the kubelet's server runs beside
// the kubelet from the start, so it may look a pod up before the pod
// informer exists (the race detector checks the hand-over).
func TestServerMayAskBeforePodsAreWatched(t *testing.T) {
	tk := startTestKubelet(t)
	for range 200 {
		if _, err := tk.k.findPod("default", "none"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("findPod of a missing pod: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
}

// createNode makes the Node the kubelet admits pods against, roomy enough
// for every test.
func createNode(t testing.TB, client kubernetes.Interface, name string) {
	t.Helper()
	node := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: v1.NodeStatus{Allocatable: v1.ResourceList{
		v1.ResourceCPU: resource.MustParse("2"), v1.ResourceMemory: resource.MustParse("2Gi"), v1.ResourcePods: resource.MustParse("1000"),
	}}}
	if _, err := client.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}
