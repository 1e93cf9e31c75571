package leader

import (
	"context"
	"errors"
	"net/http"
)

// ErrNotLeader fails a request of a term whose deadline has passed.
var ErrNotLeader = errors.New("not the leader any more: the Lease was not renewed in time")

// termKey marks the context of a term with its round.
type termKey struct{}

// Acting says whether work done with ctx may still act: false once the
// term ctx belongs to is past its deadline, even before the fence has
// cancelled it; true for a context outside any term (no leader election).
func Acting(ctx context.Context) bool {
	r, ok := ctx.Value(termKey{}).(*round)
	return !ok || r.untilDeadline() > 0
}

// Fence wraps a client's transport (rest.Config.Wrap) so that a request made
// with the context of a term past its deadline fails with ErrNotLeader
// instead of being sent. The term's fence cancels it a moment later anyway;
// this closes the moment in between, as when a frozen leader wakes up long
// after a standby took over and its workers run before its fence does.
func Fence(rt http.RoundTripper) http.RoundTripper { return fenced{rt} }

type fenced struct{ next http.RoundTripper }

func (f fenced) RoundTrip(req *http.Request) (*http.Response, error) {
	if !Acting(req.Context()) {
		return nil, ErrNotLeader
	}
	return f.next.RoundTrip(req)
}

// WrappedRoundTripper lets client-go see through the wrapper.
func (f fenced) WrappedRoundTripper() http.RoundTripper { return f.next }
