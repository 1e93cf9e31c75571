package etcd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/kinns/kinns/controlplane/etcd/config"
)

// DefaultHealthTimeout bounds a health check given no timeout: short enough
// for a quorum check before each API request burst, long enough for a new
// election to finish on the fast profile.
const DefaultHealthTimeout = time.Second

// healthKey is read by HasQuorum; it need not exist.
const healthKey = "health"

// Status is what one member says about itself and its cluster.
type Status struct {
	Endpoint  string   `json:"endpoint"`
	Reachable bool     `json:"reachable"`
	Error     string   `json:"error,omitempty"` // why it is not reachable
	MemberID  uint64   `json:"memberID,omitempty"`
	LeaderID  uint64   `json:"leaderID,omitempty"` // 0: the member knows no leader
	IsLeader  bool     `json:"isLeader"`
	RaftTerm  uint64   `json:"raftTerm,omitempty"`
	RaftIndex uint64   `json:"raftIndex,omitempty"`
	DBSize    int64    `json:"dbSize,omitempty"` // bytes, including free pages
	Version   string   `json:"version,omitempty"`
	Alarms    []string `json:"alarms,omitempty"` // e.g. NOSPACE, as etcd reports them
}

// MemberStatus asks the member at endpoint (a client URL) for its status, as
// client c (whose endpoints it ignores). It needs no quorum: a member cut off
// from the others still answers, with its own view (LeaderID 0 once it knows
// it lost the leader). The error, also recorded in the Status, means the
// member did not answer within timeout.
func MemberStatus(ctx context.Context, c Client, endpoint string, timeout time.Duration) (Status, error) {
	st := Status{Endpoint: endpoint}
	ctx, cancel := context.WithTimeout(ctx, orDefault(timeout))
	defer cancel()
	if err := probe(ctx, endpoint); err != nil {
		return st, st.fail(fmt.Errorf("etcd status of %s: %w", endpoint, err))
	}
	c.Endpoints = []string{endpoint}
	cli, err := newClient(c)
	if err != nil {
		return st, st.fail(fmt.Errorf("etcd status of %s: %w", endpoint, err))
	}
	defer cli.Close()
	resp, err := cli.Status(ctx, endpoint)
	if err != nil {
		return st, st.fail(fmt.Errorf("etcd status of %s: %w", endpoint, err))
	}
	st.Reachable = true
	st.MemberID = resp.Header.GetMemberId()
	st.LeaderID = resp.Leader
	st.IsLeader = st.LeaderID != 0 && st.LeaderID == st.MemberID
	st.RaftTerm, st.RaftIndex = resp.RaftTerm, resp.RaftIndex
	st.DBSize, st.Version, st.Alarms = resp.DbSize, resp.Version, resp.Errors
	return st, nil
}

func (st *Status) fail(err error) error {
	st.Error = err.Error()
	return err
}

// ClusterStatus asks every endpoint of c concurrently and returns their
// statuses in the order given, plus the errors of those that did not answer,
// joined.
func ClusterStatus(ctx context.Context, c Client, timeout time.Duration) ([]Status, error) {
	out := make([]Status, len(c.Endpoints))
	errs := make([]error, len(c.Endpoints))
	var wg sync.WaitGroup
	for i, ep := range c.Endpoints {
		wg.Go(func() { out[i], errs[i] = MemberStatus(ctx, c, ep, timeout) })
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// HasQuorum reports whether the cluster can commit: a linearizable read, which
// the leader confirms with a majority, succeeds through any endpoint of c within
// timeout. Otherwise it returns an error wrapping ErrNoQuorum (and the cause),
// or ErrSlow if a majority of members still follow one leader (see
// QuorumChecker.Check), after about timeout; if ctx is cancelled first it returns
// ctx's error instead. It makes clients for the one check; to check again and
// again, use a QuorumChecker.
func HasQuorum(ctx context.Context, c Client, timeout time.Duration) error {
	q, err := NewQuorumChecker(c)
	if err != nil {
		return err
	}
	defer q.Close()
	return q.Check(ctx, timeout)
}

// QuorumChecker runs HasQuorum's check over one long-lived client, so that a
// probe every few hundred milliseconds (the API server's quorum guard) costs
// one read, not a new connection to every member each time. It also keeps one
// client per member, to ask each for its status when the read is slow.
type QuorumChecker struct {
	endpoints []string
	cli       *clientv3.Client
	members   []*clientv3.Client // one per endpoint, in the same order
}

// NewQuorumChecker makes the clients; they dial lazily, so it does not fail
// because members are down, only because its certificate cannot be read.
func NewQuorumChecker(c Client) (*QuorumChecker, error) {
	cli, err := newClient(c)
	if err != nil {
		return nil, fmt.Errorf("etcd quorum check through %v: %w", c.Endpoints, err)
	}
	q := &QuorumChecker{endpoints: c.Endpoints, cli: cli}
	for _, ep := range c.Endpoints {
		one := c
		one.Endpoints = []string{ep}
		m, err := newClient(one)
		if err != nil {
			q.Close()
			return nil, fmt.Errorf("etcd quorum check through %s: %w", ep, err)
		}
		q.members = append(q.members, m)
	}
	return q, nil
}

// Check is HasQuorum over the checker's clients. When
// the read is not confirmed in time but a majority of members, asked for their
// status meanwhile, name one leader, the cluster has its quorum and is only
// slow (a starved or overloaded leader), and Check returns an error wrapping
// ErrSlow, not ErrNoQuorum. A member's status is answered from its memory,
// without the raft loop a linearizable read waits on; a member that is down,
// paused or cut off does not answer, and one that lost its leader names none.
func (q *QuorumChecker) Check(ctx context.Context, timeout time.Duration) error {
	timeout = orDefault(timeout)
	readCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	read := make(chan error, 1)
	go func() {
		// RequireLeader makes a member that lost its leader refuse at once
		// rather than queue the read; the client then tries the other
		// endpoints.
		_, err := q.cli.Get(clientv3.WithRequireLeader(readCtx), healthKey, clientv3.WithCountOnly())
		read <- err
	}()
	var err error
	var follow <-chan leaderVote
	select {
	case err = <-read:
	case <-time.After(timeout / 4):
		// Most reads take milliseconds; only a slow one costs the statuses.
		follow = q.followers(readCtx)
		err = <-read
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("etcd quorum check through %v: %w", q.endpoints, ctx.Err())
	case follow != nil && readCtx.Err() != nil:
		// Out of time, whether timeout's or ctx's deadline.
		if v := <-follow; v.count >= len(q.members)/2+1 {
			return fmt.Errorf("no linearizable read through %v within %s, but %d of %d members follow leader %x: %w",
				q.endpoints, timeout, v.count, len(q.members), v.leader, ErrSlow)
		}
	}
	return fmt.Errorf("no linearizable read through %v within %s: %w: %w", q.endpoints, timeout, ErrNoQuorum, err)
}

// leaderVote is how many members named the leader most of them named.
type leaderVote struct {
	leader uint64
	count  int
}

// followers asks every member for its status until ctx ends, and sends the
// leader most members name (members that name none are not counted).
func (q *QuorumChecker) followers(ctx context.Context) <-chan leaderVote {
	leaders := make(chan uint64, len(q.members))
	for _, m := range q.members {
		go func() {
			// Over the member's own connection: Maintenance.Status would
			// dial a new one for each call.
			resp, err := pb.NewMaintenanceClient(m.ActiveConnection()).Status(ctx, &pb.StatusRequest{})
			if err != nil {
				leaders <- 0
				return
			}
			leaders <- resp.Leader
		}()
	}
	out := make(chan leaderVote, 1)
	go func() {
		out <- countLeaders(leaders, len(q.members))
	}()
	return out
}

// countLeaders reads n answers and returns the leader named most often.
func countLeaders(leaders <-chan uint64, n int) leaderVote {
	votes := map[uint64]int{}
	var best leaderVote
	for range n {
		id := <-leaders
		if id == 0 {
			continue
		}
		votes[id]++
		if votes[id] > best.count {
			best = leaderVote{leader: id, count: votes[id]}
		}
	}
	return best
}

// Close closes the checker's clients.
func (q *QuorumChecker) Close() error {
	errs := []error{q.cli.Close()}
	for _, m := range q.members {
		errs = append(errs, m.Close())
	}
	return errors.Join(errs...)
}

// newClient returns a client that dials lazily, so every wait is bounded by
// the caller's context, and that logs nothing: its retries while members are
// down are expected, not news.
func newClient(c Client) (*clientv3.Client, error) {
	tlsCfg, err := clientTLS(c)
	if err != nil {
		return nil, err
	}
	return clientv3.New(clientv3.Config{
		Endpoints: c.Endpoints,
		TLS:       tlsCfg,
		Logger:    zap.NewNop(),
	})
}

// probe dials endpoint once, so that a member that is down is reported at
// once and as "connection refused" rather than after the whole timeout as
// "deadline exceeded", which is all the gRPC client would say.
func probe(ctx context.Context, endpoint string) error {
	u, err := config.ParseURL(endpoint)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return err
	}
	return conn.Close()
}

func orDefault(timeout time.Duration) time.Duration {
	if timeout <= 0 {
		return DefaultHealthTimeout
	}
	return timeout
}
