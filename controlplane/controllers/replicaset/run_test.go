package replicaset

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
)

// TestRunRestoresDeletedPods drives the whole loop (informers, handlers,
// queue, workers) against a fake API: pods are created, a deleted pod is
// replaced, and Run returns when its context ends.
func TestRunRestoresDeletedPods(t *testing.T) {
	client := fake.NewClientset()
	f := &fixture{t: t, ctx: t.Context(), client: client}
	addNamingReactor(client, time.Now)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(deps.Deps{Client: client, Factory: factory, Recorder: events.NewFakeRecorder(100)}, Options{})
	must(t, err, "new controller")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, 2) }()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	defer func() { cancel(); <-done }()

	_, err = client.AppsV1().ReplicaSets("default").Create(ctx, newRS("web", 3), metav1.CreateOptions{})
	must(t, err, "create replicaset")
	waitPods(t, f, 3)
	victim := f.pods()[0].Name
	must(t, client.CoreV1().Pods("default").Delete(ctx, victim, metav1.DeleteOptions{}), "delete pod")
	waitPods(t, f, 3)
	for _, n := range f.podNames() {
		if n == victim {
			t.Fatalf("deleted pod %s is back under the same name", victim)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func waitPods(t *testing.T, f *fixture, n int) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return len(f.pods()) == n, nil
	})
	if err != nil {
		t.Fatalf("waiting for %d pods, have %v: %v", n, f.podNames(), err)
	}
	// Let the controller settle, then check it did not overshoot.
	time.Sleep(200 * time.Millisecond)
	if got := len(f.pods()); got != n {
		t.Fatalf("pods = %d after settling, want %d", got, n)
	}
}
