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
		ns := topology.ContainerdNamespace(lab.Name(), nodes[i%len(nodes)].Name)
		wg.Go(func() {
			t := time.Now()
			out, err := exec.CommandContext(ctx, "ctr", "-a", lab.ContainerdAddress(), "-n", ns, "run", "--rm",
				testImage, fmt.Sprintf("bench-ctr-%d", i), "/testapp", "help").CombinedOutput()
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

// bindRate creates the batch's pods, 32 creates in flight, and returns its
// pods per second, from the first create until all of them are bound
// (polled every 20 ms).
func bindRate(ctx context.Context, cs kubernetes.Interface, b schedBatch) (float64, error) {
	start := time.Now()
	if err := createBatch(ctx, cs, b); err != nil {
		return 0, err
	}
	selector := metav1.ListOptions{LabelSelector: "bench-sched=" + b.prefix}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		list, err := cs.CoreV1().Pods("default").List(ctx, selector)
		if err != nil {
			return 0, err
		}
		bound := 0
		for _, p := range list.Items {
			if p.Spec.NodeName != "" {
				bound++
			}
		}
		if bound == b.pods {
			return float64(b.pods) / time.Since(start).Seconds(), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("not all %d pods of %s bound after 2m", b.pods, b.prefix)
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
