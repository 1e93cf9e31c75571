package cloud

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/kinns/kinns/controlplane/controllers/leader"
)

type okTransport struct{ sent int }

func (t *okTransport) RoundTrip(*http.Request) (*http.Response, error) {
	t.sent++
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
}

// A request made with context.TODO() (as the upstream service controller
// writes status) is refused once its term is over.
func TestTermFenceRefusesRequestsAfterTheTerm(t *testing.T) {
	term, end := context.WithCancel(context.Background())
	next := &okTransport{}
	rt := fencedTo(term)(next)
	req, _ := http.NewRequestWithContext(context.TODO(), http.MethodPatch, "https://10.89.0.11:6443/api/v1/namespaces/default/services/web/status", nil)
	if _, err := rt.RoundTrip(req); err != nil || next.sent != 1 {
		t.Fatalf("during the term: %v, sent %d", err, next.sent)
	}
	end()
	if _, err := rt.RoundTrip(req); !errors.Is(err, leader.ErrNotLeader) || next.sent != 1 {
		t.Fatalf("after the term: %v, sent %d", err, next.sent)
	}
}
