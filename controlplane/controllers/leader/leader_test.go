package leader

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// Test timing: the Lease records whole seconds, so LeaseDuration cannot go
// under 1s. A leader gives up after RenewDeadline without a renewal: 2s,
// so that a starved goroutine under -race on a busy 2-core machine does not
// make it flap; 1s of margin between the fence and a standby's takeover.
const (
	leaseDuration = 3 * time.Second
	renewDeadline = 2 * time.Second
	retryPeriod   = 200 * time.Millisecond
	// patience bounds every wait: generous, the measured times are logged.
	patience = 4 * (leaseDuration + retryPeriod)
)

func testOptions(client kubernetes.Interface, id string) Options {
	o := Options{
		Client: client, Namespace: "kube-system", Name: "test-lease", Identity: id,
		LeaseDuration: leaseDuration, RenewDeadline: renewDeadline, RetryPeriod: retryPeriod,
	}
	if os.Getenv("LEADER_TEST_LOG") != "" {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("id", id)
	}
	return o
}

// stage records who acts when, and whether two ever acted at once.
type stage struct {
	mu      sync.Mutex
	acting  map[string]bool
	terms   map[string]int
	began   map[string]time.Time // start of the latest term
	ended   map[string]time.Time // end of the latest term
	overlap bool
}

func newStage() *stage {
	return &stage{acting: map[string]bool{}, terms: map[string]int{}, began: map[string]time.Time{}, ended: map[string]time.Time{}}
}

// act is an instance's work: it acts until its context is done.
func (s *stage) act(id string) func(context.Context) error {
	return func(ctx context.Context) error {
		if ctx.Value(termKey{}) == nil {
			panic("the term's context does not carry its round: Fence cannot work")
		}
		s.set(id, true)
		<-ctx.Done()
		s.set(id, false)
		return nil
	}
}

func (s *stage) set(id string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		for other, a := range s.acting {
			if a && other != id {
				s.overlap = true
			}
		}
		s.terms[id]++
		s.began[id] = time.Now()
	} else {
		s.ended[id] = time.Now()
	}
	s.acting[id] = on
}

// leaders lists who acts now.
func (s *stage) leaders() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id, a := range s.acting {
		if a {
			out = append(out, id)
		}
	}
	return out
}

func (s *stage) get(f func(*stage) time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f(s)
}

func (s *stage) termsOf(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.terms[id]
}

func (s *stage) checkNoOverlap(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.overlap {
		t.Error("two instances acted at the same time")
	}
}

// instance is one Run in the background.
type instance struct {
	cancel context.CancelFunc
	done   chan error
}

func startInstance(t *testing.T, o Options, act func(context.Context) error) *instance {
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- Run(ctx, o, act) }()
	t.Cleanup(func() { in.stop(t) })
	return in
}

// stop cancels the instance and waits for Run to return.
func (in *instance) stop(t *testing.T) error {
	t.Helper()
	in.cancel()
	select {
	case err := <-in.done:
		in.done <- err // a second stop (cleanup) sees it too
		return err
	case <-time.After(patience):
		t.Fatal("Run did not return after its context was cancelled")
		return nil
	}
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

// oneLeader waits until exactly one instance acts and returns it.
func oneLeader(t *testing.T, s *stage) string {
	t.Helper()
	var id string
	eventually(t, "exactly one instance acts", func() bool {
		l := s.leaders()
		if len(l) == 1 {
			id = l[0]
		}
		return len(l) == 1
	})
	return id
}

// checkNoLeak fails the test if goroutines started during it outlive it.
func checkNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(patience)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines before the test, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
	})
}

func holder(t *testing.T, c kubernetes.Interface) string {
	t.Helper()
	l, err := c.CoordinationV1().Leases("kube-system").Get(context.Background(), "test-lease", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get lease: %v", err)
	}
	return *l.Spec.HolderIdentity
}

func TestOneActsAndTheOtherTakesOverOnShutdown(t *testing.T) {
	checkNoLeak(t)
	client := fake.NewClientset()
	s := newStage()
	ins := map[string]*instance{}
	for _, id := range []string{"a", "b"} {
		ins[id] = startInstance(t, testOptions(client, id), s.act(id))
	}
	first := oneLeader(t, s)
	time.Sleep(3 * retryPeriod) // the standby keeps trying and keeps failing
	if l := s.leaders(); len(l) != 1 || l[0] != first {
		t.Fatalf("acting: %v, want only %s", l, first)
	}
	if h := holder(t, client); h != first {
		t.Errorf("lease held by %q, acting: %s", h, first)
	}
	second := map[string]string{"a": "b", "b": "a"}[first]
	if n := s.termsOf(second); n != 0 {
		t.Fatalf("standby %s acted %d times", second, n)
	}

	if err := ins[first].stop(t); err != nil {
		t.Fatalf("leader's Run: %v", err)
	}
	stoppedAt := time.Now()
	took := eventually(t, second+" acts after the leader shut down", func() bool {
		l := s.leaders()
		return len(l) == 1 && l[0] == second
	})
	t.Logf("handover after a clean shutdown: %v (the Lease was released; LeaseDuration %v)", took, leaseDuration)
	if took > leaseDuration+retryPeriod {
		t.Errorf("handover took %v, more than LeaseDuration+RetryPeriod: was the Lease released?", took)
	}
	if !s.get(func(s *stage) time.Time { return s.ended[first] }).Before(stoppedAt) {
		t.Error("the old leader's term ended after its Run returned")
	}
	s.checkNoOverlap(t)
}

// failRenewals makes every write of the Lease fail, once keep is set,
// unless it names keep as the holder: the other instance can then neither
// renew nor release. Reactors go in before the client is used (the fake's
// reaction chain is not safe to change concurrently).
func failRenewals(client *fake.Clientset, keep *atomic.Pointer[string]) {
	client.PrependReactor("update", "leases", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		l := a.(k8stesting.UpdateAction).GetObject().(*coordinationv1.Lease)
		k := keep.Load()
		if k != nil && (l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != *k) {
			return true, nil, errors.New("injected: etcd is slow")
		}
		return false, nil, nil
	})
}

func TestLeaderWhoseRenewalsFailStopsBeforeTheOtherActs(t *testing.T) {
	checkNoLeak(t)
	client := fake.NewClientset()
	var keep atomic.Pointer[string]
	failRenewals(client, &keep)
	s := newStage()
	ins := map[string]*instance{}
	for _, id := range []string{"a", "b"} {
		ins[id] = startInstance(t, testOptions(client, id), s.act(id))
	}
	first := oneLeader(t, s)
	second := map[string]string{"a": "b", "b": "a"}[first]
	keep.Store(&second)
	injected := time.Now()

	eventually(t, second+" acts", func() bool {
		l := s.leaders()
		return len(l) == 1 && l[0] == second
	})
	stopped := s.get(func(s *stage) time.Time { return s.ended[first] })
	took := s.get(func(s *stage) time.Time { return s.began[second] })
	t.Logf("renewals failing from t=0: %s stopped acting at %v, %s started at %v (gap %v; RenewDeadline %v, LeaseDuration %v)",
		first, stopped.Sub(injected), second, took.Sub(injected), took.Sub(stopped), renewDeadline, leaseDuration)
	if !stopped.Before(took) {
		t.Errorf("%s started acting before %s stopped", second, first)
	}
	s.checkNoOverlap(t)

	// The old leader went back to standing by: it leads again when the
	// new one shuts down.
	keep.Store(nil)
	if err := ins[second].stop(t); err != nil {
		t.Fatalf("Run of %s: %v", second, err)
	}
	eventually(t, first+" leads again", func() bool {
		l := s.leaders()
		return len(l) == 1 && l[0] == first && s.termsOf(first) >= 2
	})
	s.checkNoOverlap(t)
}

func TestActFailureEndsRunAndReleasesTheLease(t *testing.T) {
	checkNoLeak(t)
	client := fake.NewClientset()
	boom := errors.New("cannot build the controllers")
	in := startInstance(t, testOptions(client, "a"), func(context.Context) error { return boom })
	select {
	case err := <-in.done:
		in.done <- err
		if !errors.Is(err, boom) {
			t.Fatalf("Run returned %v, want %v", err, boom)
		}
	case <-time.After(patience):
		t.Fatal("Run did not return after act failed")
	}
	if h := holder(t, client); h != "" {
		t.Errorf("lease still held by %q", h)
	}
}

func TestStandbyOnlyTouchesTheLease(t *testing.T) {
	leaderClient, standbyClient := sharedClients()
	s := newStage()
	startInstance(t, testOptions(leaderClient, "a"), s.act("a"))
	oneLeader(t, s)
	startInstance(t, testOptions(standbyClient, "b"), s.act("b"))
	time.Sleep(5 * retryPeriod)
	for _, a := range standbyClient.Actions() {
		if a.GetResource().Resource != "leases" || (a.GetVerb() != "get" && a.GetVerb() != "create" && a.GetVerb() != "update") {
			t.Errorf("standby did %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
	if len(standbyClient.Actions()) == 0 {
		t.Error("the standby never looked at the Lease")
	}
	if n := s.termsOf("b"); n != 0 {
		t.Errorf("standby acted %d times", n)
	}
}

func TestInvalidTimingIsAnError(t *testing.T) {
	o := testOptions(fake.NewClientset(), "a")
	o.RenewDeadline = o.LeaseDuration
	if err := Run(context.Background(), o, func(context.Context) error { return nil }); err == nil {
		t.Error("no error for a renew deadline as long as the lease")
	}
}

func TestHolderIdentity(t *testing.T) {
	a, err := HolderIdentity("cp-1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := HolderIdentity("cp-1")
	if a == b || len(a) <= len("cp-1_") || a[:len("cp-1_")] != "cp-1_" {
		t.Errorf("identities %q and %q: want distinct cp-1_<uuid>", a, b)
	}
	h, _ := os.Hostname()
	if d, _ := HolderIdentity(""); d[:len(h)+1] != h+"_" {
		t.Errorf("default identity %q does not start with the host name %q", d, h)
	}
}

// sharedClients are two fake clientsets on one store, each recording only
// its own requests.
func sharedClients() (*fake.Clientset, *fake.Clientset) {
	a := fake.NewClientset()
	b := &fake.Clientset{}
	b.AddReactor("*", "*", k8stesting.ObjectReaction(a.Tracker()))
	b.AddWatchReactor("*", func(action k8stesting.Action) (bool, watch.Interface, error) {
		w, err := a.Tracker().Watch(action.GetResource(), action.GetNamespace())
		return true, w, err
	})
	return a, b
}

type countingTransport struct{ sent atomic.Int32 }

func (c *countingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	c.sent.Add(1)
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
}

func TestFenceStopsRequestsOfATermPastItsDeadline(t *testing.T) {
	inner := &countingTransport{}
	rt := Fence(inner)
	send := func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://api/bind", nil)
		_, err := rt.RoundTrip(req)
		return err
	}
	if err := send(context.Background()); err != nil {
		t.Errorf("request outside any term: %v", err)
	}
	r := newRound(testOptions(fake.NewClientset(), "a"), nil)
	term := context.WithValue(context.Background(), termKey{}, r)
	r.renewed(time.Now())
	if err := send(term); err != nil {
		t.Errorf("request of a renewed term: %v", err)
	}
	r.renewed(time.Now().Add(-2 * renewDeadline)) // no effect: deadlines only move forward
	r.mu.Lock()
	r.deadline = time.Now().Add(-time.Millisecond) // the leader slept through its deadline
	r.mu.Unlock()
	if err := send(term); !errors.Is(err, ErrNotLeader) {
		t.Errorf("request of a term past its deadline: %v, want ErrNotLeader", err)
	}
	if n := inner.sent.Load(); n != 2 {
		t.Errorf("%d requests sent, want 2", n)
	}
}
