package harness

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kinns/kinns/harness/network"
)

func (l *Lab) etcdMember(arg string) (int, error) {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 1 || n > 3 {
		return 0, fmt.Errorf("etcd member must be 1, 2 or 3, not %q", arg)
	}
	return n, nil
}

// StopEtcd stops etcd member n (1-3) as an operator would: SIGTERM, so a
// leader hands its leadership over before it goes and clients see nothing;
// SIGKILL if it has not stopped after 10 s.
func (l *Lab) StopEtcd(ctx context.Context, n int) error {
	return l.stop(ctx, EtcdComponent(n), 10*time.Second)
}

// KillEtcd stops etcd member n (1-3) as a crash would: SIGKILL. If it was the
// leader, a write the other members had forwarded to it is lost, and its
// client gets etcd's "request timed out" once etcd's request timeout (5 s
// plus two election timeouts) is over: that is how etcd behaves.
func (l *Lab) KillEtcd(ctx context.Context, n int) error {
	return l.stop(ctx, EtcdComponent(n), 0)
}

// StartEtcd starts a stopped member again on its data; it rejoins the cluster.
// It returns once the member serves, which needs a quorum of members up.
func (l *Lab) StartEtcd(ctx context.Context, n int) error {
	return l.StartComponent(ctx, EtcdComponent(n))
}

// PartitionEtcd cuts member n's host off the fabric: its cable is pulled.
func (l *Lab) PartitionEtcd(n int) error {
	h, err := l.Host("cp-" + strconv.Itoa(n))
	if err != nil {
		return err
	}
	return network.SetLinkUp(l.plan, h, false)
}

// HealEtcd plugs member n's host back in.
func (l *Lab) HealEtcd(n int) error {
	h, err := l.Host("cp-" + strconv.Itoa(n))
	if err != nil {
		return err
	}
	return network.SetLinkUp(l.plan, h, true)
}

// LoseQuorum stops members 2 and 3 at once: a majority is gone, the store
// cannot commit. Member 1 stays, beside the API server, which keeps serving
// reads. At once, because a member stopped after the other would wait out
// its grace period: without quorum it cannot hand over its leadership.
func (l *Lab) LoseQuorum(ctx context.Context) error {
	errs := make(chan error, 2)
	for _, n := range []int{2, 3} {
		go func() { errs <- l.StopEtcd(ctx, n) }()
	}
	return errors.Join(<-errs, <-errs)
}

// RestoreQuorum starts every stopped member again.
func (l *Lab) RestoreQuorum(ctx context.Context) error {
	errs := make(chan error, 3)
	for n := 1; n <= 3; n++ {
		go func() { errs <- l.StartEtcd(ctx, n) }()
	}
	var first error
	for range 3 {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// StopAPIServer stops the API server on cp-1 gracefully.
func (l *Lab) StopAPIServer(ctx context.Context) error { return l.StopAPIServerOn(ctx, 1) }

// StartAPIServer starts the stopped API server of cp-1 again and waits until
// it is ready.
func (l *Lab) StartAPIServer(ctx context.Context) error { return l.StartAPIServerOn(ctx, 1) }

// StopAPIServerOn stops the API server of control-plane host n gracefully.
func (l *Lab) StopAPIServerOn(ctx context.Context, n int) error {
	return l.stop(ctx, APIServerComponent(n), 10*time.Second)
}

// StartAPIServerOn starts the stopped API server of control-plane host n
// again and waits until it is ready.
func (l *Lab) StartAPIServerOn(ctx context.Context, n int) error {
	return l.StartComponent(ctx, APIServerComponent(n))
}

// apiServerArg reads the optional number of an API server (default 1).
func (l *Lab) apiServerArg(args []string) (int, error) {
	if len(args) == 0 {
		return 1, nil
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 || n > l.cfg.APIServers {
		return 0, fmt.Errorf("%w: API server must be 1..%d (this lab runs %d), not %q", ErrBadFault, l.cfg.APIServers, l.cfg.APIServers, args[0])
	}
	return n, nil
}
