package deployment_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/events"

	"github.com/kinns/kinns/controlplane/controllers/deployment"
	"github.com/kinns/kinns/controlplane/controllers/replicaset"
)

// TestKubectlAgainstLab runs the ReplicaSet and Deployment controllers in
// this process against the real API server of a lab that is already up
// (KINNS_TEST_LAB=<name>; the lab must not run its own controller
// manager), limited to a fresh namespace, and drives them with kubectl:
// rollout status, set image, history, undo, restart, scale, pause and
// resume. A stand-in kubelet makes pods Running and Ready through
// pods/status, so no node is needed.
func TestKubectlAgainstLab(t *testing.T) {
	name := os.Getenv("KINNS_TEST_LAB")
	if name == "" {
		t.Skip("KINNS_TEST_LAB not set")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	kubeconfig := filepath.Join(t.TempDir(), "admin.kubeconfig")
	out, err := exec.CommandContext(ctx, filepath.Join("..", "..", "..", "_output", "bin", "lab"), "kubeconfig", "--name", name).Output()
	if err != nil {
		t.Fatalf("lab kubeconfig: %v", err)
	}
	if err := os.WriteFile(kubeconfig, out, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	ns := fmt.Sprintf("rsd-%04x", time.Now().UnixNano()&0xffff)
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})

	stop := startControllers(t, ctx, client, ns)
	defer stop()
	k := func(args ...string) string {
		t.Helper()
		args = append([]string{"--kubeconfig", kubeconfig, "-n", ns}, args...)
		out, err := exec.CommandContext(ctx, "kubectl", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args[4:], " "), err, out)
		}
		return string(out)
	}
	rolledOut := func(what string) {
		t.Helper()
		start := time.Now()
		k("rollout", "status", "deployment/web", "--timeout=90s")
		t.Logf("%s: rolled out in %v", what, time.Since(start).Round(time.Millisecond))
	}
	rsCount := func() int {
		return len(strings.Fields(k("get", "rs", "-o", "name")))
	}

	k("create", "deployment", "web", "--image=kinns.local/testapp:v1", "--replicas=3")
	rolledOut("create")
	k("set", "image", "deployment/web", "*=kinns.local/testapp:v2")
	rolledOut("set image")
	if n := rsCount(); n != 2 {
		t.Fatalf("replicasets after set image = %d, want 2", n)
	}
	k("rollout", "undo", "deployment/web")
	rolledOut("undo")
	if n := rsCount(); n != 2 {
		t.Fatalf("replicasets after undo = %d, want 2 (old one reused)", n)
	}
	hist := k("rollout", "history", "deployment/web")
	if !strings.Contains(hist, "2 ") || !strings.Contains(hist, "3 ") || strings.Contains(hist, "\n1 ") {
		t.Errorf("history after undo should list revisions 2 and 3:\n%s", hist)
	}
	if img := k("get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "kinns.local/testapp:v1" {
		t.Errorf("image after undo = %s, want v1", img)
	}
	k("rollout", "restart", "deployment/web")
	rolledOut("restart")
	if n := rsCount(); n != 3 {
		t.Fatalf("replicasets after restart = %d, want 3", n)
	}
	k("scale", "deployment/web", "--replicas=5")
	rolledOut("scale to 5")

	k("rollout", "pause", "deployment/web")
	k("set", "image", "deployment/web", "*=kinns.local/testapp:v3")
	k("scale", "deployment/web", "--replicas=4")
	time.Sleep(2 * time.Second)
	if n := rsCount(); n != 3 {
		t.Fatalf("replicasets while paused = %d, want 3 (no rollout)", n)
	}
	if got := k("get", "deploy", "web", "-o", "jsonpath={.status.replicas}"); got != "4" {
		t.Errorf("replicas while paused after scale = %s, want 4", got)
	}
	k("rollout", "resume", "deployment/web")
	rolledOut("resume")

	pods := strings.Fields(k("get", "pods", "-o", "name"))
	k("delete", pods[0], "--wait=false")
	waitPods(t, ctx, client, ns, 4, pods[0])
	evs := k("get", "events", "-o", "custom-columns=R:.reason,M:.message")
	for _, want := range []string{"ScalingReplicaSet", "Scaled up replica set web-", "SuccessfulCreate", "SuccessfulDelete"} {
		if !strings.Contains(evs, want) {
			t.Errorf("events lack %q:\n%s", want, evs)
		}
	}
	t.Logf("final:\n%s", k("get", "deploy,rs", "-o", "wide"))
}

// startControllers runs both controllers and a stand-in kubelet on ns.
func startControllers(t *testing.T, ctx context.Context, client kubernetes.Interface, ns string) func() {
	ctx, cancel := context.WithCancel(ctx)
	b := events.NewBroadcaster(&events.EventSinkImpl{Interface: client.EventsV1()})
	if err := b.StartRecordingToSinkWithContext(ctx); err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns))
	rc := replicaset.New(client, factory, b.NewRecorder(scheme.Scheme, "kinns-test/replicaset"), nil)
	dc := deployment.New(client, factory, b.NewRecorder(scheme.Scheme, "kinns-test/deployment"), nil)
	done := make(chan struct{}, 3)
	go func() { rc.Run(ctx, 2); done <- struct{}{} }()
	go func() { dc.Run(ctx, 2); done <- struct{}{} }()
	go func() { kubelet(ctx, client, ns); done <- struct{}{} }()
	factory.Start(ctx.Done())
	return func() {
		cancel()
		for range 3 {
			<-done
		}
		factory.Shutdown()
		b.Shutdown()
	}
}

// kubelet marks every pod of ns Running and Ready.
func kubelet(ctx context.Context, client kubernetes.Interface, ns string) {
	_ = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.Status.Phase == corev1.PodRunning || p.DeletionTimestamp != nil {
				continue
			}
			now := metav1.Now()
			p.Status.Phase = corev1.PodRunning
			p.Status.StartTime = &now
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}
			_, _ = client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		}
		return false, nil
	})
}

func waitPods(t *testing.T, ctx context.Context, client kubernetes.Interface, ns string, n int, gone string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		running := 0
		for _, p := range pods.Items {
			if "pod/"+p.Name == gone {
				return false, nil
			}
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				running++
			}
		}
		return running == n, nil
	})
	if err != nil {
		t.Fatalf("waiting for %d running pods without %s: %v", n, gone, err)
	}
}
