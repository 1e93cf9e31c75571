package controllers

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/metadata"
	metadatafake "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kinns/kinns/controlplane/controllers/config"
)

const patience = 20 * time.Second

// manager is one controller manager process of an HA control plane, with
// only the serviceaccount controller, on its own view of a shared fake API
// server.
type manager struct {
	client    *fake.Clientset // records only this instance's requests
	failLease atomic.Bool     // its Lease writes fail while set

	mu                    sync.Mutex
	firstWrite, lastWrite time.Time // of anything but the Lease

	cancel context.CancelFunc
	done   chan error
}

func electedConfig(identity string) Config {
	cfg := Config{
		Kubeconfig: "unused", Controllers: []string{"serviceaccount"}, Workers: 1,
		LeaderElection: config.LeaderElection{
			LeaderElect: true, Identity: identity,
			// The Lease records whole seconds, and a leader that must go
			// 2s without a renewal to give up does not flap on a busy
			// machine under -race.
			LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond,
		},
	}
	if os.Getenv("CONTROLLERS_TEST_LOG") != "" {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("host", identity)
	}
	cfg.Defaults()
	return cfg
}

func startManager(t *testing.T, base *fake.Clientset, cfg Config) *manager {
	m := &manager{client: viewOf(base), done: make(chan error, 1)}
	m.client.PrependReactor("*", "*", m.observe)
	meta := metadatafake.NewSimpleMetadataClient(metadatafake.NewTestScheme())
	c := clients{
		root: m.client, rootMeta: meta, lease: m.client,
		account: func(context.Context, string) (kubernetes.Interface, metadata.Interface, error) {
			return m.client, meta, nil
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() { m.done <- runElected(ctx, cfg, c) }()
	t.Cleanup(func() { m.stop(t) })
	return m
}

// observe times the instance's writes, and fails its Lease writes on
// demand; it handles nothing else.
func (m *manager) observe(a k8stesting.Action) (bool, runtime.Object, error) {
	if a.GetResource().Resource == "leases" {
		if m.failLease.Load() && (a.GetVerb() == "update" || a.GetVerb() == "create") {
			return true, nil, errors.New("injected: etcd is slow")
		}
		return false, nil, nil
	}
	if v := a.GetVerb(); v == "create" || v == "update" || v == "patch" || v == "delete" {
		m.mu.Lock()
		if m.firstWrite.IsZero() {
			m.firstWrite = time.Now()
		}
		m.lastWrite = time.Now()
		m.mu.Unlock()
	}
	return false, nil, nil
}

func (m *manager) writes() (first, last time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.firstWrite, m.lastWrite
}

func (m *manager) stop(t *testing.T) {
	t.Helper()
	m.cancel()
	select {
	case err := <-m.done:
		m.done <- err
		if err != nil {
			t.Errorf("runElected: %v", err)
		}
	case <-time.After(patience):
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

func eventually(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > patience {
			t.Fatalf("after %v: %s", patience, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// holderHost is the host part of the Lease's holder, "" if none.
func holderHost(base *fake.Clientset) string {
	l, err := base.CoordinationV1().Leases("kube-system").Get(context.Background(), LeaseName, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	host, _, _ := strings.Cut(*l.Spec.HolderIdentity, "_")
	return host
}

func createNamespace(t *testing.T, base *fake.Clientset, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	if _, err := base.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func hasDefaultAccount(base *fake.Clientset, ns string) bool {
	_, err := base.CoreV1().ServiceAccounts(ns).Get(context.Background(), "default", metav1.GetOptions{})
	return err == nil
}

// twoManagers starts cp-1 and cp-2 and returns them, leader first.
func twoManagers(t *testing.T, base *fake.Clientset) (leader, standby *manager, names [2]string) {
	ms := map[string]*manager{}
	for _, host := range []string{"cp-1", "cp-2"} {
		ms[host] = startManager(t, base, electedConfig(host))
	}
	var first string
	eventually(t, "a leader", func() bool { first = holderHost(base); return first != "" })
	second := map[string]string{"cp-1": "cp-2", "cp-2": "cp-1"}[first]
	return ms[first], ms[second], [2]string{first, second}
}

func onlyLeaseRequests(t *testing.T, name string, c *fake.Clientset) {
	t.Helper()
	for _, a := range c.Actions() {
		if a.GetResource().Resource != "leases" {
			t.Errorf("standby %s did %s %s", name, a.GetVerb(), a.GetResource().Resource)
		}
	}
}

func TestElectedManagersOnlyLeaderActsThenHandsOver(t *testing.T) {
	base := fake.NewClientset()
	leader, standby, names := twoManagers(t, base)
	createNamespace(t, base, "team-1")
	eventually(t, "default account in team-1", func() bool { return hasDefaultAccount(base, "team-1") })
	onlyLeaseRequests(t, names[1], standby.client)

	leader.stop(t)
	stopped := time.Now()
	createNamespace(t, base, "team-2")
	eventually(t, "default account in team-2", func() bool { return hasDefaultAccount(base, "team-2") })
	t.Logf("after the leader (%s) shut down, %s created the next account within %v", names[0], names[1], time.Since(stopped))
	if first, _ := standby.writes(); first.IsZero() {
		t.Error("the new leader wrote nothing")
	}
	if _, last := leader.writes(); !last.Before(stopped) {
		t.Error("the old leader wrote after it stopped")
	}
}

func TestManagerWhoseRenewalsFailStopsBeforeTheOtherActs(t *testing.T) {
	base := fake.NewClientset()
	leader, standby, names := twoManagers(t, base)
	createNamespace(t, base, "team-1")
	eventually(t, "default account in team-1", func() bool { return hasDefaultAccount(base, "team-1") })

	leader.failLease.Store(true)
	injected := time.Now()
	eventually(t, names[1]+" takes the Lease", func() bool { return holderHost(base) == names[1] })
	createNamespace(t, base, "team-2")
	eventually(t, "default account in team-2", func() bool { return hasDefaultAccount(base, "team-2") })

	_, oldLast := leader.writes()
	newFirst, _ := standby.writes()
	t.Logf("renewals of %s failing from t=0: its last write at %v, %s's first at %v",
		names[0], oldLast.Sub(injected), names[1], newFirst.Sub(injected))
	if !oldLast.Before(newFirst) {
		t.Errorf("%s wrote at %v, after %s began writing at %v", names[0], oldLast.Sub(injected), names[1], newFirst.Sub(injected))
	}
	if !newFirst.After(injected) {
		t.Error("the standby wrote before the leader's renewals failed")
	}
}

func TestUnelectedManagerActsAtOnceWithoutLease(t *testing.T) {
	base := fake.NewClientset()
	cfg := electedConfig("")
	cfg.LeaderElection = config.LeaderElection{}
	m := startManager(t, base, cfg)
	createNamespace(t, base, "team-1")
	eventually(t, "default account in team-1", func() bool { return hasDefaultAccount(base, "team-1") })
	for _, a := range m.client.Actions() {
		if a.GetResource().Resource == "leases" {
			t.Fatalf("manager without leader election did %s leases", a.GetVerb())
		}
	}
}
