package cronjob

import (
	"context"

	upstream "k8s.io/kubernetes/pkg/controller/cronjob"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	adapt "github.com/kinns/kinns/controlplane/controllers/internal/upstream"
)

// Workers is kube-controller-manager's default --concurrent-cron-job-syncs.
const Workers = 5

// Options tune a Controller; there is nothing to tune yet.
type Options struct{}

// Controller is upstream's CronJob controller in kinns' convention.
type Controller struct{ adapt.Runner }

// New registers the Job and CronJob informers in d.Factory.
func New(d deps.Deps, _ Options) (*Controller, error) {
	d = d.Defaults()
	jobs, crons := d.Factory.Batch().V1().Jobs(), d.Factory.Batch().V1().CronJobs()
	adapt.Register(jobs, crons)
	start := func(ctx context.Context) (adapt.RunFunc, error) {
		c, err := upstream.NewControllerV2(ctx, jobs, crons, d.Client)
		if err != nil {
			return nil, err
		}
		return c.Run, nil
	}
	return &Controller{adapt.Runner{Log: d.Log, Start: start}}, nil
}
