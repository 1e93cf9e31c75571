package deployment

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/replicaset"
)

// TestRunWithReplicaSetController drives both controllers through their
// informers against a fake API, with a stand-in kubelet that makes every
// pod ready: a deployment rolls out, rolls to a new template, restores a
// deleted pod and scales, each time until kubectl rollout status would
// succeed.
func TestRunWithReplicaSetController(t *testing.T) {
	client := fake.NewClientset()
	addAPIReactors(client, time.Now)
	factory := informers.NewSharedInformerFactory(client, 0)
	on := deps.Deps{Client: client, Factory: factory}
	dc, err := New(on, Options{})
	must(t, err, "new deployment controller")
	rc, err := replicaset.New(on, replicaset.Options{})
	must(t, err, "new replicaset controller")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{}, 3)
	go func() { dc.Run(ctx, 2); done <- struct{}{} }()
	go func() { rc.Run(ctx, 2); done <- struct{}{} }()
	go func() { fakeKubelet(ctx, client); done <- struct{}{} }()
	factory.Start(ctx.Done())
	defer func() {
		cancel()
		for range 3 {
			<-done
		}
		factory.Shutdown()
	}()

	apps := client.AppsV1().Deployments("default")
	_, err = apps.Create(ctx, newDeployment(3), metav1.CreateOptions{})
	must(t, err, "create deployment")
	waitRolledOut(t, client, 3, "1")

	d, err := apps.Get(ctx, "web", metav1.GetOptions{})
	must(t, err, "get deployment")
	image("img:v2")(d)
	d.Generation++
	_, err = apps.Update(ctx, d, metav1.UpdateOptions{})
	must(t, err, "update deployment")
	waitRolledOut(t, client, 3, "2")

	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	must(t, err, "list pods")
	must(t, client.CoreV1().Pods("default").Delete(ctx, pods.Items[0].Name, metav1.DeleteOptions{}), "delete pod")
	waitRolledOut(t, client, 3, "2")

	d, err = apps.Get(ctx, "web", metav1.GetOptions{})
	must(t, err, "get deployment")
	scaleTo(5)(d)
	d.Generation++
	_, err = apps.Update(ctx, d, metav1.UpdateOptions{})
	must(t, err, "scale deployment")
	waitRolledOut(t, client, 5, "2")
}

// waitRolledOut waits until kubectl rollout status would succeed at the
// given revision with n pods, all of the current template.
func waitRolledOut(t *testing.T, client kubernetes.Interface, n int, revision string) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		d, err := client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		msg, done, err := rolloutStatus(d)
		last = msg
		if err != nil || !done || d.Annotations[RevisionAnnotation] != revision {
			return false, err
		}
		pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		want := TemplateHash(&d.Spec.Template, d.Status.CollisionCount)
		for _, p := range pods.Items {
			if p.Labels[hashLabel] != want {
				return false, nil
			}
		}
		return len(pods.Items) == n, nil
	})
	if err != nil {
		rss, _ := client.AppsV1().ReplicaSets("default").List(context.Background(), metav1.ListOptions{})
		for _, rs := range rss.Items {
			t.Logf("replicaset %s spec=%d status=%+v", rs.Name, *rs.Spec.Replicas, rs.Status)
		}
		pods, _ := client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
		for _, p := range pods.Items {
			t.Logf("pod %s phase=%s conds=%v", p.Name, p.Status.Phase, p.Status.Conditions)
		}
		t.Fatalf("rollout of revision %s with %d pods: %v (last: %s)", revision, n, err, last)
	}
}

// fakeKubelet makes every pod Running and Ready, and removes pods being
// deleted, like a node would.
func fakeKubelet(ctx context.Context, client kubernetes.Interface) {
	_ = wait.PollUntilContextCancel(ctx, 10*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.Status.Phase == corev1.PodRunning {
				continue
			}
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = []corev1.PodCondition{{
				Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now(),
			}}
			_, _ = client.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{})
		}
		return false, nil
	})
}
