package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/kinns/kinns/controlplane/controllers"
	"github.com/kinns/kinns/controlplane/pki"
)

// TestAgainstLab runs the controller manager in this process against a lab
// that is already up (`lab up --name X --nodes 1`), with fake nodes whose
// Leases the test renews. It is skipped unless KINNS_TEST_LAB names the lab;
// the specs in specs/ prove the same claims with real kubelets.
func TestAgainstLab(t *testing.T) {
	name := os.Getenv("KINNS_TEST_LAB")
	if name == "" {
		t.Skip("KINNS_TEST_LAB not set")
	}
	labBin := filepath.Join("..", "..", "_output", "bin", "lab")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin, kcm := kubeconfigs(t, labBin, name)

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	kcmCtx, stopKCM := context.WithCancel(ctx)
	kcmDone := make(chan error, 1)
	go func() {
		kcmDone <- controllers.Run(kcmCtx, controllers.Config{Kubeconfig: kcm, NodeTiming: controllers.Timing(controllers.ProfileFast), Log: log})
	}()
	defer func() { stopKCM(); t.Logf("manager returned: %v", <-kcmDone) }()

	cfg, err := clientcmd.BuildConfigFromFlags("", admin)
	if err != nil {
		t.Fatal(err)
	}
	c := kubernetes.NewForConfigOrDie(cfg)
	sfx := fmt.Sprintf("%04x", time.Now().UnixNano()&0xffff)
	ns, nodeA, nodeB := "cmt-"+sfx, "cmt-a-"+sfx, "cmt-b-"+sfx
	_, err = c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	must(t, err)
	defer cleanup(c, ns, []string{nodeA, nodeB})
	start := time.Now()
	waitFor(t, ctx, 20*time.Second, "default ServiceAccount in the new namespace", func() (bool, error) {
		_, err := c.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	t.Logf("default ServiceAccount after %v", time.Since(start).Round(time.Millisecond))

	hb := newHeartbeats(c)
	hb.add(t, ctx, nodeA, "")
	hb.add(t, ctx, nodeB, "10.244.7.0/24")
	go hb.run(ctx)

	waitFor(t, ctx, 15*time.Second, "pod CIDR for node a", func() (bool, error) {
		n, err := c.CoreV1().Nodes().Get(ctx, nodeA, metav1.GetOptions{})
		return err == nil && n.Spec.PodCIDR != "", nil
	})
	a, _ := c.CoreV1().Nodes().Get(ctx, nodeA, metav1.GetOptions{})
	b, _ := c.CoreV1().Nodes().Get(ctx, nodeB, metav1.GetOptions{})
	t.Logf("cmt-a got %s, cmt-b kept %s", a.Spec.PodCIDR, b.Spec.PodCIDR)
	if a.Spec.PodCIDR == b.Spec.PodCIDR || b.Spec.PodCIDR != "10.244.7.0/24" {
		t.Fatalf("IPAM: a %s b %s", a.Spec.PodCIDR, b.Spec.PodCIDR)
	}

	runningPod(t, ctx, c, ns, "p-a", nodeA, "10.244.255.10")
	runningPod(t, ctx, c, ns, "p-b", nodeB, "10.244.7.10")
	_, err = c.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}},
		metav1.CreateOptions{})
	must(t, err)
	waitFor(t, ctx, 15*time.Second, "2 ready endpoints on port 8080", func() (bool, error) {
		return readyEndpoints(ctx, c, ns, "web") == 2, nil
	})
	waitFor(t, ctx, 15*time.Second, "Endpoints with 2 addresses", func() (bool, error) {
		ep, err := c.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && len(ep.Subsets) == 1 && len(ep.Subsets[0].Addresses) == 2 && ep.Subsets[0].Ports[0].Port == 8080, nil
	})

	// Claim 16: etcd quorum lost for 30 s, three times the grace period.
	lab(t, labBin, name, "fault", "quorum", "lose")
	time.Sleep(30 * time.Second)
	lab(t, labBin, name, "fault", "quorum", "restore")
	time.Sleep(15 * time.Second)
	for _, n := range []string{nodeA, nodeB} {
		node, err := c.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
		must(t, err)
		if len(node.Spec.Taints) != 0 || node.Status.Conditions[0].Status != corev1.ConditionTrue {
			t.Errorf("after the outage %s has taints %v, Ready %s", n, node.Spec.Taints, node.Status.Conditions[0].Status)
		}
	}
	if readyEndpoints(ctx, c, ns, "web") != 2 {
		t.Errorf("endpoints lost readiness because of the outage")
	}
	for _, p := range []string{"p-a", "p-b"} {
		pod, err := c.CoreV1().Pods(ns).Get(ctx, p, metav1.GetOptions{})
		if err != nil || pod.DeletionTimestamp != nil {
			t.Errorf("pod %s evicted because of the outage", p)
		}
	}

	// Claim 15: cmt-b falls silent.
	hb.stop(nodeB)
	silent := time.Now()
	waitFor(t, ctx, 25*time.Second, "cmt-b Unknown and tainted", func() (bool, error) {
		n, err := c.CoreV1().Nodes().Get(ctx, nodeB, metav1.GetOptions{})
		return err == nil && n.Status.Conditions[0].Reason == "NodeStatusUnknown" && len(n.Spec.Taints) == 2, nil
	})
	t.Logf("cmt-b Unknown and tainted %v after its last heartbeat", time.Since(silent).Round(time.Second))
	waitFor(t, ctx, 10*time.Second, "p-b not ready in the slice", func() (bool, error) {
		return readyEndpoints(ctx, c, ns, "web") == 1, nil
	})
	waitFor(t, ctx, 25*time.Second, "p-b evicted", func() (bool, error) {
		p, err := c.CoreV1().Pods(ns).Get(ctx, "p-b", metav1.GetOptions{})
		return err != nil || p.DeletionTimestamp != nil, nil
	})
	t.Logf("p-b evicted %v after its node's last heartbeat", time.Since(silent).Round(time.Second))
	hb.restart(t, ctx, nodeB)
	waitFor(t, ctx, 15*time.Second, "cmt-b untainted", func() (bool, error) {
		n, err := c.CoreV1().Nodes().Get(ctx, nodeB, metav1.GetOptions{})
		return err == nil && len(n.Spec.Taints) == 0, nil
	})

	// Garbage collection, background.
	owner, err := c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	must(t, err)
	_, err = c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dependent",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: owner.UID}}}}, metav1.CreateOptions{})
	must(t, err)
	must(t, c.CoreV1().ConfigMaps(ns).Delete(ctx, "owner", metav1.DeleteOptions{}))
	waitFor(t, ctx, 30*time.Second, "dependent collected", func() (bool, error) {
		_, err := c.CoreV1().ConfigMaps(ns).Get(ctx, "dependent", metav1.GetOptions{})
		return err != nil, nil
	})

	// ReplicaSet (another helper's controller, registered here).
	_, err = c.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "rs"},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "rs"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "rs"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "kinns.local/testapp:latest"}}}}}}, metav1.CreateOptions{})
	must(t, err)
	waitFor(t, ctx, 20*time.Second, "ReplicaSet creates 2 pods", func() (bool, error) {
		l, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=rs"})
		return err == nil && len(l.Items) == 2, nil
	})

	// Namespace deletion: everything in it goes, then the namespace.
	gone := ns + "-gone"
	_, err = c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gone}}, metav1.CreateOptions{})
	must(t, err)
	_, err = c.CoreV1().ConfigMaps(gone).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	must(t, err)
	must(t, c.CoreV1().Namespaces().Delete(ctx, gone, metav1.DeleteOptions{}))
	start = time.Now()
	waitFor(t, ctx, 60*time.Second, "namespace deleted", func() (bool, error) {
		_, err := c.CoreV1().Namespaces().Get(ctx, gone, metav1.GetOptions{})
		return err != nil, nil
	})
	t.Logf("namespace gone after %v", time.Since(start).Round(time.Millisecond))
}

func readyEndpoints(ctx context.Context, c kubernetes.Interface, ns, svc string) int {
	l, err := c.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		return -1
	}
	n := 0
	for _, s := range l.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready && *s.Ports[0].Port == 8080 {
				n++
			}
		}
	}
	return n
}

func runningPod(t *testing.T, ctx context.Context, c kubernetes.Interface, ns, name, node, ip string) {
	t.Helper()
	p, err := c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "kinns.local/testapp:latest",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}}, metav1.CreateOptions{})
	must(t, err)
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}}
	_, err = c.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	must(t, err)
}

// heartbeats renews the Leases of fake nodes every second.
type heartbeats struct {
	c     kubernetes.Interface
	mu    sync.Mutex
	alive map[string]bool
}

func newHeartbeats(c kubernetes.Interface) *heartbeats {
	return &heartbeats{c: c, alive: map[string]bool{}}
}

func (h *heartbeats) add(t *testing.T, ctx context.Context, name, cidr string) {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if cidr != "" {
		n.Spec.PodCIDR, n.Spec.PodCIDRs = cidr, []string{cidr}
	}
	n, err := h.c.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	must(t, err)
	h.postReady(t, ctx, name)
	_, err = h.c.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To(name), LeaseDurationSeconds: ptr.To[int32](10), RenewTime: &metav1.MicroTime{Time: time.Now()}},
	}, metav1.CreateOptions{})
	must(t, err)
	h.mu.Lock()
	h.alive[name] = true
	h.mu.Unlock()
}

func (h *heartbeats) postReady(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		n, err := h.c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		now := metav1.Now()
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now}}
		_, err = h.c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err == nil, nil
	})
	must(t, err)
}

func (h *heartbeats) stop(name string) {
	h.mu.Lock()
	h.alive[name] = false
	h.mu.Unlock()
}

func (h *heartbeats) restart(t *testing.T, ctx context.Context, name string) {
	h.mu.Lock()
	h.alive[name] = true
	h.mu.Unlock()
	h.postReady(t, ctx, name)
}

func (h *heartbeats) run(ctx context.Context) {
	for ctx.Err() == nil {
		h.mu.Lock()
		var names []string
		for n, ok := range h.alive {
			if ok {
				names = append(names, n)
			}
		}
		h.mu.Unlock()
		for _, n := range names {
			rctx, cancel := context.WithTimeout(ctx, time.Second)
			if l, err := h.c.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(rctx, n, metav1.GetOptions{}); err == nil {
				l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
				h.c.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(rctx, l, metav1.UpdateOptions{})
			}
			cancel()
		}
		time.Sleep(time.Second)
	}
}

func cleanup(c kubernetes.Interface, ns string, nodes []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pods, _ := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	for _, p := range pods.Items {
		c.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	}
	c.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return err != nil, nil
	})
	for _, n := range nodes {
		c.CoreV1().Nodes().Delete(ctx, n, metav1.DeleteOptions{})
		c.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(ctx, n, metav1.DeleteOptions{})
	}
}

// kubeconfigs returns the admin kubeconfig of the lab and one for
// system:kube-controller-manager, both reaching the API through 127.0.0.1.
func kubeconfigs(t *testing.T, labBin, name string) (admin, kcm string) {
	t.Helper()
	var st struct {
		StateDir  string `json:"stateDir"`
		APIServer string `json:"apiServer"`
	}
	must(t, json.Unmarshal([]byte(lab(t, labBin, name, "status", "-o", "json")), &st))
	b, err := pki.Load(filepath.Join(st.StateDir, "pki"))
	must(t, err)
	dir := t.TempDir()
	admin, kcm = filepath.Join(dir, "admin"), filepath.Join(dir, "kcm")
	must(t, pki.WriteKubeconfig(admin, b, pki.Admin, st.APIServer))
	must(t, pki.WriteKubeconfig(kcm, b, pki.ControllerManager, st.APIServer))
	return admin, kcm
}

func lab(t *testing.T, bin, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, append(append([]string{}, args...), "--name", name)...).CombinedOutput()
	if err != nil {
		t.Fatalf("lab %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func waitFor(t *testing.T, ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(context.Context) (bool, error) { return cond() })
	if err != nil {
		t.Fatalf("%s: not within %s", what, timeout)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(fmt.Errorf("unexpected: %w", err))
	}
}
