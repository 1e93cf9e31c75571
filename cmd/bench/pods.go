package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	schedulerconfig "github.com/kinns/kinns/controlplane/scheduler/config"
	"github.com/kinns/kinns/harness"
	"github.com/kinns/kinns/harness/topology"
)

const testImage = "kinns.local/testapp:latest"

func clientset(lab *harness.Lab) (kubernetes.Interface, error) {
	rc, err := lab.RESTConfig()
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = 1000, 1000
	return kubernetes.NewForConfig(rc)
}

func benchPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "pods"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: testImage,
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intOrPort(8080)}}, PeriodSeconds: 1},
		}}},
	}
}

// podStartup creates n pods at once and watches each one reach Running,
// from the moment its create call was sent; then deletes them and waits
// until they are gone, so that the next scenario finds a quiet lab.
func podStartup(ctx context.Context, lab *harness.Lab, n int) (Figures, error) {
	cs, err := clientset(lab)
	if err != nil {
		return nil, err
	}
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "bench=pods"})
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	defer deletePods(context.WithoutCancel(ctx), cs, "bench=pods")
	created, createErrs := createBurst(ctx, cs, n)
	var running []float64
	seen := map[string]bool{}
	timeout := time.After(3 * time.Minute)
	for len(seen) < n {
		select {
		case err := <-createErrs:
			return nil, err
		case ev, open := <-w.ResultChan():
			if !open {
				return nil, fmt.Errorf("the pod watch ended after %d of %d pods were Running", len(seen), n)
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type == watch.Deleted || p.Status.Phase != corev1.PodRunning || seen[p.Name] {
				continue
			}
			seen[p.Name] = true
			running = append(running, seconds(time.Since(created(p.Name))))
		case <-timeout:
			return nil, fmt.Errorf("only %d of %d pods Running after 3m; not Ready: %s", len(seen), n, notReady(ctx, cs))
		}
	}
	return Figures{"pod_startup_p50_seconds": percentile(running, 0.5), "pod_startup_p99_seconds": percentile(running, 0.99)}, nil
}

// createBurst creates n bench pods at once; created tells when the create
// of a pod was sent, once that pod was seen.
func createBurst(ctx context.Context, cs kubernetes.Interface, n int) (created func(string) time.Time, errs chan error) {
	var mu sync.Mutex
	sent := map[string]time.Time{}
	errs = make(chan error, n)
	for i := range n {
		name := fmt.Sprintf("burst-%d", i)
		mu.Lock()
		sent[name] = time.Now()
		mu.Unlock()
		go func() {
			if _, err := cs.CoreV1().Pods("default").Create(ctx, benchPod(name), metav1.CreateOptions{}); err != nil {
				errs <- fmt.Errorf("create pod %s: %w", name, err)
			}
		}()
	}
	return func(name string) time.Time { mu.Lock(); defer mu.Unlock(); return sent[name] }, errs
}

// deletePods deletes the pods of selector and waits up to a minute until
// they are gone.
func deletePods(ctx context.Context, cs kubernetes.Interface, selector string) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	opts := metav1.ListOptions{LabelSelector: selector}
	cs.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{}, opts)
	for ctx.Err() == nil {
		if l, err := cs.CoreV1().Pods("default").List(ctx, opts); err == nil && len(l.Items) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// notReady describes the bench pods that are not Ready, for the error.
func notReady(ctx context.Context, cs kubernetes.Interface) string {
	list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "bench=pods"})
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, p := range list.Items {
		if !isPodReady(&p) {
			out = append(out, fmt.Sprintf("%s on %q: phase %s, conditions %+v, containers %+v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.Conditions, p.Status.ContainerStatuses))
		}
	}
	return strings.Join(out, "; ")
}

func isPodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// ctrBurst runs n plain `ctr run --rm` of the test image at once on the
// lab's containerd, spread over the nodes' containerd namespaces, and times
// each from its start to its exit: the floor under a burst of pods.
func ctrBurst(ctx context.Context, lab *harness.Lab, n int) (Figures, error) {
	nodes := lab.Plan().Nodes()
	took := make([]float64, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		node := nodes[i%len(nodes)].Name
		ns := topology.ContainerdNamespace(lab.Name(), node)
		id := fmt.Sprintf("bench-ctr-%d", i)
		// In the node's cgroup, as its pods are, so that it goes with the
		// lab: without --cgroup, containerd makes /<namespace>/<id>, and
		// runc leaves /<namespace> behind at the hierarchy's root.
		cgroup := harness.LabCgroup(lab.Name()) + "/" + node + "/" + id
		wg.Go(func() {
			t := time.Now()
			out, err := exec.CommandContext(ctx, "ctr", "-a", lab.ContainerdAddress(), "-n", ns, "run", "--rm",
				"--cgroup", cgroup, testImage, id, "/testapp", "help").CombinedOutput()
			took[i] = seconds(time.Since(t))
			if err != nil {
				errs <- fmt.Errorf("ctr run in %s: %w: %s", ns, err, out)
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return Figures{"ctr_run_p50_seconds": percentile(took, 0.5), "ctr_run_p99_seconds": percentile(took, 0.99)}, nil
}

// fakeCluster cordons the lab's real nodes and registers n fake ones,
// sched-node-0…, all Ready. It may run again on the same lab: each
// scheduling batch then finds the same nodes, their heartbeat renewed.
func fakeCluster(ctx context.Context, lab *harness.Lab, cs kubernetes.Interface, n int) error {
	cordon := []byte(`{"spec":{"unschedulable":true}}`)
	for _, node := range lab.Plan().Nodes() {
		if _, err := cs.CoreV1().Nodes().Patch(ctx, node.Name, types.MergePatchType, cordon, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("cordon %s: %w", node.Name, err)
		}
	}
	for i := range n {
		if err := fakeNode(ctx, cs, fmt.Sprintf("sched-node-%d", i)); err != nil {
			return err
		}
	}
	return nil
}

// schedBatch is one batch of the scheduling benchmark: pods prefix-0…,
// labelled bench-sched=prefix, for the scheduler schedulerName ("": the
// default one).
type schedBatch struct {
	prefix        string
	schedulerName string
	pods          int
}

// backlogRate measures a scheduler on a backlog, as scheduler_perf does
// once its pods exist: pause stops the scheduler (SIGSTOP), the batch is
// created (32 creates in flight), resume lets it go, and a watch times
// each pod's binding. The rate is the pods bound after the first, over the
// time from the first binding to the last: the scheduler's own pace, with
// neither the creates nor its wake-up in it.
func backlogRate(ctx context.Context, cs kubernetes.Interface, b schedBatch, pause, resume func() error) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	bt, err := watchBindings(ctx, cs, b.prefix)
	if err != nil {
		return 0, err
	}
	if err := pause(); err != nil {
		return 0, fmt.Errorf("pause the scheduler: %w", err)
	}
	resumed := false
	defer func() {
		if !resumed {
			resume()
		}
	}()
	if err := createBatch(ctx, cs, b); err != nil {
		return 0, err
	}
	if err := resume(); err != nil {
		return 0, fmt.Errorf("resume the scheduler: %w", err)
	}
	resumed = true
	return bt.rate(ctx, b.pods)
}

// bindTimer times the bindings of a batch's pods, from a watch it drains
// at once.
type bindTimer struct {
	stop   context.CancelFunc // ends the watch
	mu     sync.Mutex
	w      watch.Interface // the current watch
	bound  map[string]bool
	first  time.Time
	last   time.Time
	closed bool
	err    error         // why the watch ended, if not stopped
	change chan struct{} // signalled after each binding, and when the watch ends
}

// watchBindings starts timing the bindings of the pods labelled
// bench-sched=prefix from now: the watch is open when it returns.
func watchBindings(ctx context.Context, cs kubernetes.Interface, prefix string) (*bindTimer, error) {
	selector := "bench-sched=" + prefix
	list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector, Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("list the pods of %s: %w", prefix, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	watchFrom := func(rv string) (watch.Interface, error) {
		return cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: rv})
	}
	w, err := watchFrom(list.ResourceVersion)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watch the pods of %s: %w", prefix, err)
	}
	bt := &bindTimer{stop: cancel, w: w, bound: map[string]bool{}, change: make(chan struct{}, 1)}
	go bt.drain(ctx, list.ResourceVersion, watchFrom)
	return bt, nil
}

// drain reads the watch until it is stopped. Under a burst of creates the
// API server closes a watch whose events it cannot hand over fast enough
// (seen here after about 350 events); drain then watches again from the
// last resource version it saw, as informers do. Not client-go's
// RetryWatcher, which does the same: it opens its first watch in the
// background, and watchBindings promises an open watch on return, so that
// its caller may create pods at once even where a watch from a resource
// version is not replayed (client-go's fake clientset, in the tests).
func (bt *bindTimer) drain(ctx context.Context, rv string, watchFrom func(string) (watch.Interface, error)) {
	var err error
	for err == nil {
		bt.mu.Lock()
		w := bt.w
		bt.mu.Unlock()
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				err = apierrors.FromObject(ev.Object)
				break
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			rv = p.ResourceVersion
			if p.Spec.NodeName != "" {
				bt.bind(p.Name, time.Now())
			}
		}
		w.Stop()
		if ctx.Err() != nil {
			break
		}
		if err == nil {
			time.Sleep(20 * time.Millisecond) // no busy loop on a server that keeps closing
			if w, err = watchFrom(rv); err == nil {
				bt.mu.Lock()
				bt.w = w
				bt.mu.Unlock()
			}
		}
	}
	bt.mu.Lock()
	bt.closed, bt.err = true, err
	bt.mu.Unlock()
	bt.signal()
}

func (bt *bindTimer) bind(pod string, at time.Time) {
	bt.mu.Lock()
	if !bt.bound[pod] {
		if len(bt.bound) == 0 {
			bt.first = at
		}
		bt.bound[pod], bt.last = true, at
	}
	bt.mu.Unlock()
	bt.signal()
}

func (bt *bindTimer) signal() {
	select {
	case bt.change <- struct{}{}:
	default:
	}
}

// rate waits until n pods are bound, stops the watch, and returns (n-1)
// over the time from the first binding seen to the last.
func (bt *bindTimer) rate(ctx context.Context, n int) (float64, error) {
	defer func() {
		bt.stop()
		bt.mu.Lock()
		bt.w.Stop()
		bt.mu.Unlock()
	}()
	for {
		bt.mu.Lock()
		got, first, last, closed, werr := len(bt.bound), bt.first, bt.last, bt.closed, bt.err
		bt.mu.Unlock()
		switch {
		case got >= n && n >= 2 && last.After(first):
			return float64(n-1) / last.Sub(first).Seconds(), nil
		case got >= n:
			return 0, fmt.Errorf("%d pods bound at once: no rate", n)
		case closed:
			return 0, fmt.Errorf("the watch ended after %d of %d pods bound: %v", got, n, werr)
		}
		select {
		case <-bt.change:
		case <-ctx.Done():
			return 0, fmt.Errorf("%d of %d pods bound: %w", got, n, ctx.Err())
		}
	}
}

// bindFloor is what binding costs the API server with no scheduler: the
// batch's pods, named for no scheduler, are bound by the bench itself,
// round robin over the fake nodes, as many bindings in flight as our
// scheduler's bind workers. No scheduler binds faster on this lab.
func bindFloor(ctx context.Context, cs kubernetes.Interface, b schedBatch, nodes int) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	b.schedulerName = "bench-no-scheduler"
	bt, err := watchBindings(ctx, cs, b.prefix)
	if err != nil {
		return 0, err
	}
	if err := createBatch(ctx, cs, b); err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, schedulerconfig.DefaultBindWorkers)
	errs := make(chan error, b.pods)
	for i := range b.pods {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			name := fmt.Sprintf("%s-%d", b.prefix, i)
			binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name},
				Target: corev1.ObjectReference{Kind: "Node", Name: fmt.Sprintf("sched-node-%d", i%nodes)}}
			if err := cs.CoreV1().Pods("default").Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
				errs <- fmt.Errorf("bind pod %s: %w", name, err)
			}
		})
	}
	rate, err := bt.rate(ctx, b.pods)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return rate, err
}

func createBatch(ctx context.Context, cs kubernetes.Interface, b schedBatch) error {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	errs := make(chan error, b.pods)
	for i := range b.pods {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", b.prefix, i), Labels: map[string]string{"bench-sched": b.prefix}},
				Spec: corev1.PodSpec{SchedulerName: b.schedulerName, Containers: []corev1.Container{{Name: "c", Image: testImage}},
					Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}}}
			if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
				errs <- fmt.Errorf("create pod %s: %w", p.Name, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// deleteBatch deletes the batch's pods at once (no kubelet runs their
// nodes) and waits until they are gone.
func deleteBatch(ctx context.Context, cs kubernetes.Interface, prefix string) error {
	selector := metav1.ListOptions{LabelSelector: "bench-sched=" + prefix}
	now := metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}
	if err := cs.CoreV1().Pods("default").DeleteCollection(ctx, now, selector); err != nil {
		return fmt.Errorf("delete the pods of %s: %w", prefix, err)
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		list, err := cs.CoreV1().Pods("default").List(ctx, selector)
		if err != nil {
			return err
		}
		if len(list.Items) == 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("pods of %s still there 1m after their deletion", prefix)
}

// fakeNodePods is how many pods a fake node takes, as a kubelet's default.
const fakeNodePods = 110

func fakeNode(ctx context.Context, cs kubernetes.Interface, name string) error {
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64"),
		corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: *resource.NewQuantity(fakeNodePods, resource.DecimalSI)}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{Capacity: alloc, Allocatable: alloc}}
	if _, err := cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("register node %s: %w", name, err)
	}
	// A patch, not an update: the controllers change new nodes (pod CIDR) at once.
	now := time.Now().UTC().Format(time.RFC3339)
	ready := fmt.Sprintf(`{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","lastHeartbeatTime":%q,"lastTransitionTime":%q}]}}`, now, now)
	_, err := cs.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, []byte(ready), metav1.PatchOptions{}, "status")
	return err
}

func intOrPort(p int) intstr.IntOrString { return intstr.FromInt32(int32(p)) }
