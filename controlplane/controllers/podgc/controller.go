package podgc

import (
	"context"

	upstream "k8s.io/kubernetes/pkg/controller/podgc"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	adapt "github.com/kinns/kinns/controlplane/controllers/internal/upstream"
)

// Options tune a Controller.
type Options struct {
	// TerminatedPodThreshold is how many terminated pods may stay before
	// the oldest are deleted (default upstream's, 12500).
	TerminatedPodThreshold int
}

// Controller is upstream's pod garbage collector in kinns' convention.
type Controller struct{ adapt.Runner }

// New registers the pod and node informers in d.Factory.
func New(d deps.Deps, opts Options) (*Controller, error) {
	d = d.Defaults()
	if opts.TerminatedPodThreshold <= 0 {
		opts.TerminatedPodThreshold = 12500
	}
	pods, nodes := d.Factory.Core().V1().Pods(), d.Factory.Core().V1().Nodes()
	adapt.Register(pods, nodes)
	start := func(ctx context.Context) (adapt.RunFunc, error) {
		c := upstream.NewPodGC(ctx, d.Client, pods, nodes, opts.TerminatedPodThreshold)
		return func(ctx context.Context, _ int) { c.Run(ctx) }, nil
	}
	return &Controller{adapt.Runner{Log: d.Log, Start: start}}, nil
}
