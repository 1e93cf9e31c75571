package job

import (
	"context"

	upstream "k8s.io/kubernetes/pkg/controller/job"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	adapt "github.com/kinns/kinns/controlplane/controllers/internal/upstream"
)

// Workers is kube-controller-manager's default --concurrent-job-syncs.
const Workers = 5

// Options tune a Controller; there is nothing to tune yet.
type Options struct{}

// Controller is upstream's Job controller in kinns' convention.
type Controller struct{ adapt.Runner }

// New registers the pod and Job informers in d.Factory.
func New(d deps.Deps, _ Options) (*Controller, error) {
	d = d.Defaults()
	pods, jobs := d.Factory.Core().V1().Pods(), d.Factory.Batch().V1().Jobs()
	adapt.Register(pods, jobs)
	start := func(ctx context.Context) (adapt.RunFunc, error) {
		c, err := upstream.NewController(ctx, d.Client, pods, jobs, nil, nil)
		if err != nil {
			return nil, err
		}
		return c.Run, nil
	}
	return &Controller{adapt.Runner{Log: d.Log, Start: start}}, nil
}
