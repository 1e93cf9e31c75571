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

// podStartup creates n pods at once and watches each one reach Running and
// Ready, from the moment its create call was sent.
func podStartup(ctx context.Context, lab *harness.Lab, n int) ([]Result, error) {
	cs, err := clientset(lab)
	if err != nil {
		return nil, err
	}
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "bench=pods"})
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	var mu sync.Mutex
	created := map[string]time.Time{}
	var wg sync.WaitGroup
	createErrs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("burst-%d", i)
			mu.Lock()
			created[name] = time.Now()
			mu.Unlock()
			if _, err := cs.CoreV1().Pods("default").Create(ctx, benchPod(name), metav1.CreateOptions{}); err != nil {
				createErrs <- fmt.Errorf("create pod %s: %w", name, err)
			}
		}()
	}
	running := Result{Name: fmt.Sprintf("pod creation -> Running (burst of %d, 3 nodes)", n), Unit: "ms", Runs: n}
	ready := Result{Name: fmt.Sprintf("pod creation -> Ready (burst of %d, 3 nodes)", n), Unit: "ms", Runs: n}
	seenRunning, seenReady := map[string]bool{}, map[string]bool{}
	timeout := time.After(3 * time.Minute)
	for len(seenReady) < n {
		select {
		case err := <-createErrs:
			return nil, err
		case ev, open := <-w.ResultChan():
			if !open {
				return nil, fmt.Errorf("the pod watch ended after %d of %d pods were Ready", len(seenReady), n)
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			mu.Lock()
			t0 := created[p.Name]
			mu.Unlock()
			if p.Status.Phase == corev1.PodRunning && !seenRunning[p.Name] {
				seenRunning[p.Name] = true
				running.Values = append(running.Values, ms(time.Since(t0)))
			}
			if isPodReady(p) && !seenReady[p.Name] {
				seenReady[p.Name] = true
				ready.Values = append(ready.Values, ms(time.Since(t0)))
			}
		case <-timeout:
			return nil, fmt.Errorf("only %d of %d pods Ready after 3m; not Ready: %s", len(seenReady), n, notReady(ctx, cs))
		}
	}
	wg.Wait()
	cs.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "bench=pods"})
	return []Result{summarise(running), summarise(ready)}, nil
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

// ctrRun times a plain `ctr run` of the test image on the same containerd: the
// floor under any pod start.
func ctrRun(ctx context.Context, lab *harness.Lab, runs int) (Result, error) {
	r := Result{Name: "ctr run --rm of the test image (baseline)", Unit: "ms", Runs: runs}
	ns := topology.ContainerdNamespace(lab.Name(), "node-1")
	for i := 0; i < runs; i++ {
		t := time.Now()
		out, err := exec.CommandContext(ctx, "ctr", "-a", lab.ContainerdAddress(), "-n", ns, "run", "--rm",
			testImage, fmt.Sprintf("bench-ctr-%d", i), "/testapp", "help").CombinedOutput()
		if err != nil {
			return r, fmt.Errorf("ctr run: %v: %s", err, out)
		}
		r.Values = append(r.Values, ms(time.Since(t)))
	}
	return summarise(r), nil
}

// scheduling measures binding throughput: 500 pods onto 10 registered nodes
// that no kubelet runs (the real nodes are cordoned), so that only the
// scheduler and the API server are measured.
func scheduling(ctx context.Context, lab *harness.Lab, pods, nodes int) (Result, error) {
	r := Result{Name: fmt.Sprintf("scheduler: %d pods bound on %d nodes", pods, nodes), Unit: "pods/s", Runs: 1}
	cs, err := clientset(lab)
	if err != nil {
		return r, err
	}
	if err := fakeCluster(ctx, lab, cs, nodes); err != nil {
		return r, err
	}
	rate, err := bindRate(ctx, cs, schedBatch{prefix: "sched", pods: pods})
	if err != nil {
		return r, err
	}
	r.Values = []float64{rate}
	return summarise(r), nil
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
