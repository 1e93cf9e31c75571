package fakeapi

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// Client is a fake clientset holding objs that, like the API server, names
// objects created with only a generateName, gives them a UID and a
// creation time, and a new resourceVersion on every write.
func Client(objs ...runtime.Object) *fake.Clientset {
	client := fake.NewClientset(objs...)
	var n, rv atomic.Int64
	stamp := func(a k8stesting.Action) (bool, runtime.Object, error) {
		var obj runtime.Object
		switch a := a.(type) {
		case k8stesting.CreateAction:
			obj = a.GetObject()
		case k8stesting.UpdateAction:
			obj = a.GetObject()
		default:
			return false, nil, nil
		}
		m, err := meta.Accessor(obj)
		if err != nil {
			return false, nil, nil
		}
		if a.GetVerb() == "create" {
			named(m, n.Add(1))
		}
		m.SetResourceVersion(strconv.FormatInt(rv.Add(1), 10))
		return false, nil, nil
	}
	client.PrependReactor("create", "*", stamp)
	client.PrependReactor("update", "*", stamp)
	return client
}

func named(m metav1.Object, n int64) {
	if m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(fmt.Sprintf("%s%05d", m.GetGenerateName(), n))
	}
	if m.GetUID() == "" {
		m.SetUID(types.UID(fmt.Sprintf("uid-%d", n)))
	}
	if ts := m.GetCreationTimestamp(); ts.IsZero() {
		m.SetCreationTimestamp(metav1.Now())
	}
}

// Runner is a controller.
type Runner interface {
	Run(ctx context.Context, workers int)
}

// Run starts factory and r with workers workers; at the test's end it
// stops both and fails the test if r does not return.
func Run(t *testing.T, factory informers.SharedInformerFactory, r Runner, workers int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	if p, ok := r.(interface{ Prepare(context.Context) }); ok {
		p.Prepare(ctx) // before the informers start, as the manager does
	}
	go func() { defer close(done); r.Run(ctx, workers) }()
	factory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the controller did not return after its context ended")
		}
		factory.Shutdown()
	})
}

// Eventually polls cond every 20 ms for up to 20 s and fails the test
// with what if it never holds.
func Eventually(t *testing.T, what string, cond func(ctx context.Context) bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 20*time.Second, true,
		func(ctx context.Context) (bool, error) { return cond(ctx), nil })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
