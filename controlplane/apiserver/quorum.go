package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/endpoints/request"

	"github.com/kinns/kinns/controlplane/etcd"
)

// QuorumGuard fails writes fast while the store has no quorum. etcd itself would
// hold a write until its own request timeout (seconds to tens of seconds) and the
// API server until its request timeout (a minute); a user deserves an answer at
// once that says why.
//
// A probe runs every Interval; Fall probes in a row failing (or taking longer
// than their timeout) mark quorum lost. A probe that fails with an error
// wrapping etcd.ErrSlow (the read was slow, but a majority of members follow
// one leader) does not count: a starved store is slow, not without quorum,
// and its writes still commit. While lost, every write is answered
// 503 with a metav1.Status; a write already in flight when quorum is lost is
// cancelled and answered the same, so it ends within about two probe
// intervals plus two probe timeouts. Reads go on: the watch cache still
// serves them, and running workloads keep working; so do token and access
// reviews, which are creates that store nothing.
type QuorumGuard struct {
	// Probe returns nil when the store can commit.
	Probe    func(ctx context.Context) error
	Interval time.Duration
	Timeout  time.Duration
	// Fall is how many failed probes in a row mark quorum lost (default
	// 2): one probe slower than its timeout on a busy machine is not an
	// outage, and must not cancel the writes in flight.
	Fall int
	Log  *slog.Logger

	mu       sync.Mutex
	lost     chan struct{} // closed while quorum is lost; nil while it holds
	why      string
	failures int  // failed probes in a row
	slow     bool // the last probe found the store slow
}

// Run probes until ctx is done.
func (g *QuorumGuard) Run(ctx context.Context) {
	t := time.NewTicker(g.Interval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, g.Timeout)
		err := g.Probe(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		g.set(err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (g *QuorumGuard) set(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	slow := errors.Is(err, etcd.ErrSlow)
	if slow && !g.slow {
		g.Log.Warn("etcd is slow, but a majority of its members follow one leader: writes go on", "err", err)
	}
	g.slow = slow
	if slow {
		// A majority followed one leader just now: whatever failed
		// before, the quorum is there.
		err = nil
	}
	if err != nil {
		g.failures++
	} else {
		g.failures = 0
	}
	switch {
	case err != nil && g.lost == nil && g.failures >= max(g.Fall, 2):
		g.lost = make(chan struct{})
		close(g.lost)
		g.why = err.Error()
		g.Log.Warn("etcd has lost quorum: refusing writes", "err", err)
	case err == nil && g.lost != nil:
		g.lost = nil
		g.Log.Info("etcd quorum is back: accepting writes")
	}
}

// state returns a channel closed while quorum is lost, and the probe's error.
func (g *QuorumGuard) state() (lost <-chan struct{}, why string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lost, g.why
}

// watchLoss returns a channel that is closed once quorum is lost (at once if it
// already is).
func (g *QuorumGuard) watchLoss(ctx context.Context) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		t := time.NewTicker(g.Interval / 2)
		defer t.Stop()
		for {
			if lost, _ := g.state(); lost != nil {
				close(out)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return out
}

var writeVerbs = map[string]bool{
	"create": true, "update": true, "patch": true, "delete": true, "deletecollection": true,
}

// storeless are the API groups whose every resource is a review answered
// without the store (TokenReview, SubjectAccessReview and the self- and
// local variants): creating one reads, so it goes on without quorum, as a
// kubelet checks each `kubectl logs` caller with them.
var storeless = map[string]bool{"authentication.k8s.io": true, "authorization.k8s.io": true}

// streams are the subresources a create opens a session on, with a kubelet
// or a pod, rather than writes to the store: `kubectl exec`, `attach`,
// `port-forward` and the proxy go on without quorum, and their connection
// must reach the API server's upgrade handler as it is.
var streams = map[string]bool{"exec": true, "attach": true, "portforward": true, "proxy": true}

// Wrap guards h. It must sit after the filter that sets the RequestInfo.
func (g *QuorumGuard) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, ok := request.RequestInfoFrom(r.Context())
		if !ok || !info.IsResourceRequest || !writeVerbs[info.Verb] || storeless[info.APIGroup] || streams[info.Subresource] {
			h.ServeHTTP(w, r)
			return
		}
		if lost, why := g.state(); lost != nil {
			writeNoQuorum(w, why)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		gw := &guardedWriter{ResponseWriter: w}
		go func() {
			select {
			case <-g.watchLoss(ctx):
				if gw.stop() {
					cancel()
				}
			case <-ctx.Done():
			}
		}()
		h.ServeHTTP(gw, r.WithContext(ctx))
		if gw.stopped() {
			// The client is told why, not that its request timed out.
			_, why := g.state()
			writeNoQuorum(w, why)
		}
	})
}

// guardedWriter passes a write's answer through unless the guard stopped
// the write before the answer began; then it drops what the cancelled
// handler says, and the guard answers instead.
type guardedWriter struct {
	http.ResponseWriter
	mu               sync.Mutex
	began, cancelled bool
}

// stop marks the write cancelled, unless its answer has begun.
func (w *guardedWriter) stop() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cancelled = !w.began
	return w.cancelled
}

func (w *guardedWriter) stopped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cancelled
}

// pass says whether the handler may still write, marking the answer begun.
func (w *guardedWriter) pass() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.began = w.began || !w.cancelled
	return !w.cancelled
}

func (w *guardedWriter) WriteHeader(code int) {
	if w.pass() {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *guardedWriter) Write(b []byte) (int, error) {
	if w.pass() {
		return w.ResponseWriter.Write(b)
	}
	return len(b), nil
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *guardedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func writeNoQuorum(w http.ResponseWriter, why string) {
	st := metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Code:     http.StatusServiceUnavailable,
		Reason:   metav1.StatusReasonServiceUnavailable,
		Message: "etcd has no quorum: the cluster's state cannot be changed until a majority of etcd members is back " +
			"(running workloads are unaffected; reads still work) [last probe: " + why + "]",
	}
	// No Retry-After: client-go would quietly retry up to ten times, and the
	// point of the guard is an answer now.
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	json.NewEncoder(w).Encode(st)
}
