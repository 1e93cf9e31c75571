package ttlafterfinished

import (
	"context"

	upstream "k8s.io/kubernetes/pkg/controller/ttlafterfinished"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	adapt "github.com/kinns/kinns/controlplane/controllers/internal/upstream"
)

// Workers is kube-controller-manager's default --concurrent-ttl-after-finished-syncs.
const Workers = 5

// Options tune a Controller; there is nothing to tune yet.
type Options struct{}

// Controller is upstream's TTL-after-finished controller in kinns' convention.
type Controller struct{ adapt.Runner }

// New registers the Job informer in d.Factory.
func New(d deps.Deps, _ Options) (*Controller, error) {
	d = d.Defaults()
	jobs := d.Factory.Batch().V1().Jobs()
	adapt.Register(jobs)
	start := func(ctx context.Context) (adapt.RunFunc, error) {
		return upstream.New(ctx, jobs, d.Client).Run, nil
	}
	return &Controller{adapt.Runner{Log: d.Log, Start: start}}, nil
}
