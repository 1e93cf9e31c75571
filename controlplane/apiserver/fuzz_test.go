package apiserver

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// FuzzQuorumGuardClassifiesRequests feeds arbitrary methods and paths through the
// request-info resolver and the guard while quorum is lost: nothing may panic,
// and only writes to resources may be refused.
func FuzzQuorumGuardClassifiesRequests(f *testing.F) {
	for _, seed := range []struct{ method, path string }{
		{"GET", "/api/v1/namespaces/default/pods"},
		{"POST", "/api/v1/namespaces/default/pods"},
		{"PATCH", "/apis/apps/v1/namespaces/x/deployments/web/scale"},
		{"DELETE", "/api/v1/nodes/node-1"},
		{"GET", "/api/v1/watch/pods?watch=1"},
		{"POST", "/healthz"},
		{"PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1"},
		{"GET", "//..//%zz"},
	} {
		f.Add(seed.method, seed.path)
	}
	var healthy atomic.Bool
	g := newGuard(&healthy)
	g.set(errLost)
	h := withInfo(g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })))
	f.Fuzz(func(t *testing.T, method, path string) {
		if !validMethod(method) || !strings.HasPrefix(path, "/") {
			return
		}
		req, err := http.NewRequest(method, "http://x"+path, nil)
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusServiceUnavailable && (method == "GET" || method == "HEAD") {
			t.Errorf("%s %s refused: a read must be served without quorum", method, path)
		}
	})
}

var errLost = &lostError{}

type lostError struct{}

func (*lostError) Error() string { return "no quorum" }

func validMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return true
	}
	return false
}
