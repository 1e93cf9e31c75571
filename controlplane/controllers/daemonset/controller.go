package daemonset

import (
	"context"
	"time"

	"k8s.io/client-go/util/flowcontrol"
	upstream "k8s.io/kubernetes/pkg/controller/daemon"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	adapt "github.com/kinns/kinns/controlplane/controllers/internal/upstream"
)

// Workers is kube-controller-manager's default --concurrent-daemonset-syncs.
const Workers = 2

// Options tune a Controller.
type Options struct {
	// FailedPodBackoff and FailedPodBackoffMax delay replacing a daemon pod
	// that failed on a node (default upstream's, 1 s doubling to 15 min).
	FailedPodBackoff, FailedPodBackoffMax time.Duration
}

// Controller is upstream's DaemonSet controller in kinns' convention.
type Controller struct{ adapt.Runner }

// New registers the DaemonSet, ControllerRevision, pod and node informers
// in d.Factory.
func New(d deps.Deps, opts Options) (*Controller, error) {
	d = d.Defaults()
	if opts.FailedPodBackoff <= 0 {
		opts.FailedPodBackoff = time.Second
	}
	if opts.FailedPodBackoffMax <= 0 {
		opts.FailedPodBackoffMax = 15 * time.Minute
	}
	f := d.Factory
	sets, revs, pods, nodes := f.Apps().V1().DaemonSets(), f.Apps().V1().ControllerRevisions(), f.Core().V1().Pods(), f.Core().V1().Nodes()
	adapt.Register(sets, revs, pods, nodes)
	start := func(ctx context.Context) (adapt.RunFunc, error) {
		backoff := flowcontrol.NewBackOff(opts.FailedPodBackoff, opts.FailedPodBackoffMax)
		c, err := upstream.NewDaemonSetsController(ctx, sets, revs, pods, nodes, d.Client, backoff)
		if err != nil {
			return nil, err
		}
		return c.Run, nil
	}
	return &Controller{adapt.Runner{Log: d.Log, Start: start}}, nil
}
