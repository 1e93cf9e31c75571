package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/endpoints/request"

	"github.com/kinns/kinns/controlplane/etcd"
)

// withInfo stands in for the API server's request-info filter.
func withInfo(h http.Handler) http.Handler {
	resolver := &request.RequestInfoFactory{APIPrefixes: sets.NewString("api", "apis"), GrouplessAPIPrefixes: sets.NewString("api")}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, _ := resolver.NewRequestInfo(r)
		h.ServeHTTP(w, r.WithContext(request.WithRequestInfo(r.Context(), info)))
	})
}

func newGuard(healthy *atomic.Bool) *QuorumGuard {
	return &QuorumGuard{
		Probe: func(ctx context.Context) error {
			if healthy.Load() {
				return nil
			}
			return errors.New("context deadline exceeded")
		},
		Interval: 10 * time.Millisecond, Timeout: 10 * time.Millisecond,
		Log: slog.New(slog.DiscardHandler),
	}
}

func TestQuorumGuardRefusesWritesOnlyWhileQuorumIsLost(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	g := newGuard(&healthy)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.Run(ctx)
	srv := httptest.NewServer(withInfo(g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))))
	defer srv.Close()

	do := func(method, path string) *http.Response {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if r := do("POST", "/api/v1/namespaces/default/pods"); r.StatusCode != 200 {
		t.Fatalf("write with quorum: %d", r.StatusCode)
	}
	healthy.Store(false)
	waitFor(t, func() bool { lost, _ := g.state(); return lost != nil })

	r := do("POST", "/api/v1/namespaces/default/pods")
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("write without quorum: %d, want 503", r.StatusCode)
	}
	for _, review := range []string{"/apis/authentication.k8s.io/v1/tokenreviews", "/apis/authorization.k8s.io/v1/subjectaccessreviews"} {
		if r := do("POST", review); r.StatusCode != 200 {
			t.Errorf("%s without quorum: %d, want it served (a review stores nothing)", review, r.StatusCode)
		}
	}
	var st metav1.Status
	if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Kind != "Status" || st.Reason != metav1.StatusReasonServiceUnavailable || st.Code != 503 || r.Header.Get("Retry-After") != "" {
		t.Errorf("status = %+v", st)
	}
	for _, m := range []string{"PUT", "PATCH", "DELETE"} {
		if r := do(m, "/api/v1/namespaces/default/pods/x"); r.StatusCode != 503 {
			t.Errorf("%s without quorum: %d", m, r.StatusCode)
		}
	}
	if r := do("GET", "/api/v1/namespaces/default/pods"); r.StatusCode != 200 {
		t.Errorf("read without quorum: %d, want it served", r.StatusCode)
	}
	for _, sub := range []string{"exec", "attach", "portforward"} {
		if r := do("POST", "/api/v1/namespaces/default/pods/x/"+sub); r.StatusCode != 200 {
			t.Errorf("%s without quorum: %d, want it through (a session, not a write)", sub, r.StatusCode)
		}
	}
	if r := do("GET", "/healthz"); r.StatusCode != 200 {
		t.Errorf("non-resource request: %d", r.StatusCode)
	}
	healthy.Store(true)
	waitFor(t, func() bool { lost, _ := g.state(); return lost == nil })
	if r := do("POST", "/api/v1/namespaces/default/pods"); r.StatusCode != 200 {
		t.Errorf("write after quorum is back: %d", r.StatusCode)
	}
}

func TestQuorumGuardCancelsWritesInFlightWhenQuorumGoes(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	g := newGuard(&healthy)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.Run(ctx)
	cancelled := make(chan struct{})
	h := withInfo(g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		healthy.Store(false) // the store goes while this write waits on it
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(5 * time.Second):
		}
	})))
	req := httptest.NewRequest("POST", "/api/v1/namespaces/default/configmaps", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	select {
	case <-cancelled:
	default:
		t.Fatal("a write in flight was not cancelled when quorum was lost")
	}
	var st metav1.Status
	if err := json.NewDecoder(rec.Body).Decode(&st); err != nil || rec.Code != http.StatusServiceUnavailable || st.Code != 503 {
		t.Errorf("a cancelled write was answered %d %+v (%v), want the 503 Status that says quorum is lost", rec.Code, st, err)
	}
}

func TestQuorumGuardIgnoresOneSlowProbe(t *testing.T) {
	g := &QuorumGuard{Log: slog.New(slog.DiscardHandler)}
	g.set(errors.New("context deadline exceeded"))
	if lost, _ := g.state(); lost != nil {
		t.Fatal("one failed probe marked quorum lost")
	}
	g.set(nil)
	g.set(errors.New("context deadline exceeded"))
	if lost, _ := g.state(); lost != nil {
		t.Fatal("two failed probes, not in a row, marked quorum lost")
	}
	g.set(errors.New("context deadline exceeded"))
	if lost, _ := g.state(); lost == nil {
		t.Fatal("two failed probes in a row did not mark quorum lost")
	}
}

func TestQuorumGuardDoesNotCountASlowStore(t *testing.T) {
	g := &QuorumGuard{Log: slog.New(slog.DiscardHandler)}
	slow := fmt.Errorf("no read within 1s, but 3 of 3 members follow leader 1: %w", etcd.ErrSlow)
	for range 10 {
		g.set(slow)
	}
	if lost, _ := g.state(); lost != nil {
		t.Fatal("a slow store that keeps its quorum marked quorum lost")
	}
	// A slow probe shows a majority following one leader: the failure
	// before it and the one after are not in a row.
	g.set(errors.New("etcdserver: no leader"))
	g.set(slow)
	g.set(errors.New("etcdserver: no leader"))
	if lost, _ := g.state(); lost != nil {
		t.Fatal("two failures around a slow probe marked quorum lost")
	}
	g.set(errors.New("etcdserver: no leader"))
	if lost, _ := g.state(); lost == nil {
		t.Fatal("two failures in a row did not mark quorum lost")
	}
	g.set(slow)
	if lost, _ := g.state(); lost != nil {
		t.Fatal("a majority following one leader again did not end the loss")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 2s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
