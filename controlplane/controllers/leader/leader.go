package leader

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	rl "k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// Options are one instance's part in the election of a Lease.
type Options struct {
	// Client reads and writes the Lease. Give it its own rate limiter, so
	// that renewals never queue behind the component's own requests.
	Client kubernetes.Interface
	// Namespace and Name of the Lease.
	Namespace, Name string
	// Identity is the holderIdentity this instance writes; it must differ
	// between candidates (see HolderIdentity).
	Identity string
	// LeaseDuration, RenewDeadline and RetryPeriod are client-go's (see
	// controllers/config.LeaderElection). The Lease records LeaseDuration
	// in whole seconds.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Log receives "became leader" and "lost leadership" at Info, and
	// client-go's messages about the election; nil discards.
	Log *slog.Logger
}

// HolderIdentity returns name + "_" + a random UUID, as upstream components
// name themselves in their Lease ("<hostname>_<uuid>"): the name tells a
// person where the leader runs, the UUID keeps two processes with one name
// (one restarted while the other is frozen) from both believing they hold
// the Lease. An empty name is the host name.
func HolderIdentity(name string) (string, error) {
	if name == "" {
		h, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("leader identity: %w", err)
		}
		name = h
	}
	return name + "_" + string(uuid.NewUUID()), nil
}

// Run takes part in the election until ctx is done, running act during each
// term this instance holds the Lease (see the package doc). It returns nil
// once ctx is done and the last term has stopped; an error when the options
// are invalid, or what act returned if it returned on its own.
func Run(ctx context.Context, o Options, act func(context.Context) error) error {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(o.Log.Handler()))
	for ctx.Err() == nil {
		r := newRound(o, act)
		le, err := leaderelection.NewLeaderElector(r.config())
		if err != nil {
			return fmt.Errorf("leader election on lease %s/%s: %w", o.Namespace, o.Name, err)
		}
		r.run(ctx, le)
		if r.actReturned {
			return r.actErr
		}
	}
	return nil
}

// lock is the Lease this instance competes for.
func (o Options) lock() rl.Interface {
	return &rl.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: o.Namespace, Name: o.Name},
		Client:     o.Client.CoordinationV1(),
		LockConfig: rl.ResourceLockConfig{Identity: o.Identity},
	}
}
