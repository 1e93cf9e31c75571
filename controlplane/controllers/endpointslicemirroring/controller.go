package endpointslicemirroring

import (
	"context"
	"time"

	upstream "k8s.io/kubernetes/pkg/controller/endpointslicemirroring"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	adapt "github.com/kinns/kinns/controlplane/controllers/internal/upstream"
)

// Workers is kube-controller-manager's default
// --mirroring-concurrent-service-endpoint-syncs.
const Workers = 5

// Options tune a Controller.
type Options struct {
	// MaxEndpointsPerSubset caps the addresses mirrored from one subset
	// (default upstream's, 1000).
	MaxEndpointsPerSubset int32
	// BatchPeriod groups the changes of one Endpoints into one sync
	// (default 0, upstream's: at once).
	BatchPeriod time.Duration
}

// Controller is upstream's EndpointSlice mirroring controller in kinns'
// convention.
type Controller struct{ adapt.Runner }

// New registers the Endpoints, EndpointSlice and Service informers in
// d.Factory.
func New(d deps.Deps, opts Options) (*Controller, error) {
	d = d.Defaults()
	if opts.MaxEndpointsPerSubset <= 0 {
		opts.MaxEndpointsPerSubset = 1000
	}
	f := d.Factory
	eps, slices, svcs := f.Core().V1().Endpoints(), f.Discovery().V1().EndpointSlices(), f.Core().V1().Services()
	adapt.Register(eps, slices, svcs)
	start := func(ctx context.Context) (adapt.RunFunc, error) {
		c := upstream.NewController(ctx, eps, slices, svcs, opts.MaxEndpointsPerSubset, d.Client, opts.BatchPeriod)
		return c.Run, nil
	}
	return &Controller{adapt.Runner{Log: d.Log, Start: start}}, nil
}
