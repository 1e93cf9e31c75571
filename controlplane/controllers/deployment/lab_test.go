package deployment_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/events"

	"github.com/kinns/kinns/controlplane/controllers"
	"github.com/kinns/kinns/controlplane/controllers/deployment"
	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/replicaset"
	"github.com/kinns/kinns/controlplane/pki"
)

// TestKubectlAgainstLab runs the ReplicaSet and Deployment controllers in
// this process against the real API server of a lab that is already up
// (KINNS_TEST_LAB=<name>; the lab must not run its own controller
// manager), limited to a fresh namespace, and drives them with kubectl:
// rollout status, set image, history, undo, restart, scale, pause and
// resume. With KINNS_TEST_MANAGER=1 the lab's controller manager runs
// them instead, as their ServiceAccounts. A stand-in kubelet makes pods Running and Ready through
// pods/status, so no node is needed (pods of an image named "broken"
// never start).
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
	cfg.QPS, cfg.Burst = 100, 200 // controllers, kubelet and kubectl checks share it
	client := kubernetes.NewForConfigOrDie(cfg)
	ns := fmt.Sprintf("rsd-%04x", time.Now().UnixNano()&0xffff)
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	// Pod admission needs the namespace's default ServiceAccount, which
	// another controller would make.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	if _, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	var stop func()
	if os.Getenv("KINNS_TEST_MANAGER") != "" {
		stop = startManager(t, ctx, client, name)
	} else {
		stop = startControllers(t, ctx, client, ns)
	}
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
		k("rollout", "status", "deployment/web", "--timeout=60s")
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

	// A rollout whose pods never become ready fails kubectl rollout status
	// once progressDeadlineSeconds pass; undo recovers.
	k("patch", "deployment/web", "-p", `{"spec":{"progressDeadlineSeconds":3}}`)
	rolledOut("deadline change")
	k("set", "image", "deployment/web", "*=kinns.local/testapp:broken")
	args := []string{"--kubeconfig", kubeconfig, "-n", ns, "rollout", "status", "deployment/web", "--timeout=60s"}
	out, err = exec.CommandContext(ctx, "kubectl", args...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "exceeded its progress deadline") {
		t.Fatalf("rollout status of a stuck rollout: err=%v\n%s", err, out)
	}
	k("rollout", "undo", "deployment/web")
	rolledOut("undo after deadline")

	pods := strings.Fields(k("get", "pods", "-o", "name"))
	k("delete", pods[0], "--wait=false")
	waitPods(t, ctx, client, ns, 4, pods[0])

	// ControllerRef on the real API: a relabelled pod is released (and
	// replaced), labelling it back gets it adopted (and one pod removed).
	pod := strings.TrimPrefix(strings.Fields(k("get", "pods", "-o", "name"))[0], "pod/")
	k("label", "pod", pod, "app=debug", "--overwrite")
	waitOwned(t, ctx, client, ns, pod, false)
	waitPods(t, ctx, client, ns, 5, "")
	k("label", "pod", pod, "app=web", "--overwrite")
	waitOwned(t, ctx, client, ns, pod, true)
	waitPods(t, ctx, client, ns, 4, "")

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
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	d := deps.Deps{Client: client, Factory: factory, Log: log}
	d.Recorder = b.NewRecorder(scheme.Scheme, "kinns-test/replicaset")
	rc, err := replicaset.New(d, replicaset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.Recorder = b.NewRecorder(scheme.Scheme, "kinns-test/deployment")
	dc, err := deployment.New(d, deployment.Options{})
	if err != nil {
		t.Fatal(err)
	}
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

// startManager runs the lab's controller manager (replicaset and
// deployment only) in this process, so every write goes through the
// controllers' own ServiceAccounts and their RBAC roles, plus the
// stand-in kubelet on every namespace.
func startManager(t *testing.T, ctx context.Context, client kubernetes.Interface, lab string) func() {
	out, err := exec.CommandContext(ctx, filepath.Join("..", "..", "..", "_output", "bin", "lab"), "status", "-o", "json", "--name", lab).Output()
	if err != nil {
		t.Fatalf("lab status: %v", err)
	}
	var st struct {
		StateDir  string `json:"stateDir"`
		APIServer string `json:"apiServer"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatal(err)
	}
	b, err := pki.Load(filepath.Join(st.StateDir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	kcm := filepath.Join(t.TempDir(), "kcm.kubeconfig")
	if err := pki.WriteKubeconfig(kcm, b, pki.ControllerManager, st.APIServer); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	done := make(chan error, 2)
	go func() {
		done <- controllers.Run(ctx, controllers.Config{Kubeconfig: kcm, Controllers: []string{"replicaset", "deployment"}, Log: log})
	}()
	go func() { kubelet(ctx, client, metav1.NamespaceAll); done <- nil }()
	return func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		}
	}
}

// kubelet marks every pod of ns Running and Ready, except "broken" ones.
func kubelet(ctx context.Context, client kubernetes.Interface, ns string) {
	_ = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.Status.Phase == corev1.PodRunning || p.DeletionTimestamp != nil ||
				strings.Contains(p.Spec.Containers[0].Image, "broken") {
				continue
			}
			now := metav1.Now()
			p.Status.Phase = corev1.PodRunning
			p.Status.StartTime = &now
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}
			_, _ = client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		}
		return false, nil
	})
}

// waitOwned waits until pod has (or has not) a controller.
func waitOwned(t *testing.T, ctx context.Context, client kubernetes.Interface, ns, pod string, owned bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && owned {
			return true, nil // adopted, then chosen as the extra pod
		}
		if err != nil {
			return false, nil
		}
		return (metav1.GetControllerOf(p) != nil) == owned, nil
	})
	if err != nil {
		t.Fatalf("waiting for pod %s owned=%v: %v", pod, owned, err)
	}
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
