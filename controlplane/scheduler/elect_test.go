package scheduler

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	controllersconfig "github.com/kinns/kinns/controlplane/controllers/config"
)

// electedInstance is one scheduler process of an HA control plane, on its
// own view of a shared fake API server.
type electedInstance struct {
	client *fake.Clientset // records only this instance's requests
	binds  atomic.Int64
	cancel context.CancelFunc
	done   chan error
}

// electedConfig has test lease timings, 3s / 2s / 200ms: the Lease records
// whole seconds, and a leader that must go 2s without a renewal to give up
// does not flap on a busy machine under -race.
func electedConfig(identity string) Config {
	cfg := fastConfig()
	cfg.LeaderElection = controllersconfig.LeaderElection{
		LeaderElect: true, Identity: identity,
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond,
	}
	return cfg
}

// startElected runs runElected for cfg on a view of base's store.
func startElected(t *testing.T, base *testCluster, cfg Config) *electedInstance {
	in := &electedInstance{client: viewOf(base.client), done: make(chan error, 1)}
	in.client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		handled, obj, err := base.bindReactor(a)
		if handled && err == nil {
			in.binds.Add(1)
		}
		return handled, obj, err
	})
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	c := clients{api: in.client, events: in.client, lease: in.client}
	go func() { in.done <- runElected(ctx, cfg, c) }()
	t.Cleanup(func() { in.stop(t) })
	return in
}

func (in *electedInstance) stop(t *testing.T) {
	t.Helper()
	in.cancel()
	select {
	case err := <-in.done:
		in.done <- err
		if err != nil {
			t.Errorf("runElected: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("runElected did not return")
	}
}

// viewOf is a clientset on base's store that records its own requests.
func viewOf(base *fake.Clientset) *fake.Clientset {
	v := &fake.Clientset{}
	v.AddReactor("*", "*", k8stesting.ObjectReaction(base.Tracker()))
	v.AddWatchReactor("*", func(a k8stesting.Action) (bool, watch.Interface, error) {
		opts := metav1.ListOptions{}
		if w, ok := a.(k8stesting.WatchActionImpl); ok {
			opts = w.ListOptions
		}
		w, err := base.Tracker().Watch(a.GetResource(), a.GetNamespace(), opts)
		return true, w, err
	})
	return v
}

// leaseHolder is the host part of the kube-scheduler Lease's holder.
func leaseHolder(t *testing.T, base *testCluster) string {
	l, err := base.client.CoordinationV1().Leases("kube-system").Get(context.Background(), LeaseName, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	host, _, _ := strings.Cut(*l.Spec.HolderIdentity, "_")
	return host
}

// onlyLeaseRequests fails if the instance did anything but read or write
// its Lease.
func onlyLeaseRequests(t *testing.T, name string, c *fake.Clientset) {
	t.Helper()
	for _, a := range c.Actions() {
		if a.GetResource().Resource != "leases" {
			t.Errorf("standby %s did %s %s", name, a.GetVerb(), a.GetResource().Resource)
		}
	}
}

func TestElectedSchedulersOnlyLeaderBindsThenHandsOver(t *testing.T) {
	base := &testCluster{t: t, client: fake.NewSimpleClientset(node("node-1", "4", "8Gi", 110))} //nolint:staticcheck // as newFakeCluster
	ins := map[string]*electedInstance{}
	for _, host := range []string{"cp-1", "cp-2"} {
		ins[host] = startElected(t, base, electedConfig(host))
	}
	var first string
	eventually(t, 10*time.Second, "a leader", func() bool { first = leaseHolder(t, base); return first != "" })
	second := map[string]string{"cp-1": "cp-2", "cp-2": "cp-1"}[first]

	base.create(pod("web-1", "100m", "100Mi"))
	eventually(t, 10*time.Second, "web-1 bound", func() bool { return base.getPod("web-1").Spec.NodeName == "node-1" })
	if b := ins[first].binds.Load(); b != 1 {
		t.Errorf("leader %s bound %d pods, want 1", first, b)
	}
	onlyLeaseRequests(t, second, ins[second].client)

	ins[first].stop(t)
	stopped := time.Now()
	base.create(pod("web-2", "100m", "100Mi"))
	eventually(t, 10*time.Second, "web-2 bound by the new leader", func() bool { return ins[second].binds.Load() == 1 })
	t.Logf("after the leader (%s) shut down, %s bound the next pod within %v", first, second, time.Since(stopped))
	if h := leaseHolder(t, base); h != second {
		t.Errorf("lease holder %q, want %s", h, second)
	}
	if b := ins[first].binds.Load(); b != 1 {
		t.Errorf("old leader bound %d pods, want 1", b)
	}
}

func TestUnelectedSchedulerBindsAtOnceWithoutLease(t *testing.T) {
	base := &testCluster{t: t, client: fake.NewSimpleClientset(node("node-1", "4", "8Gi", 110))} //nolint:staticcheck // as newFakeCluster
	in := startElected(t, base, fastConfig())
	base.create(pod("web", "100m", "100Mi"))
	eventually(t, 10*time.Second, "web bound", func() bool { return in.binds.Load() == 1 })
	for _, a := range in.client.Actions() {
		if a.GetResource().Resource == "leases" {
			t.Fatalf("scheduler without leader election did %s leases", a.GetVerb())
		}
	}
}
