package replication

import (
	"context"

	upstream "k8s.io/kubernetes/pkg/controller/replication"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	adapt "github.com/kinns/kinns/controlplane/controllers/internal/upstream"
)

// Workers is kube-controller-manager's default --concurrent-rc-syncs.
const Workers = 5

// Options tune a Controller.
type Options struct {
	// BurstReplicas caps the pods created or deleted in one sync (default
	// upstream's, 500).
	BurstReplicas int
}

// Controller is upstream's replication manager in kinns' convention.
type Controller struct{ adapt.Runner }

// New registers the pod and ReplicationController informers in d.Factory.
func New(d deps.Deps, opts Options) (*Controller, error) {
	d = d.Defaults()
	if opts.BurstReplicas <= 0 {
		opts.BurstReplicas = upstream.BurstReplicas
	}
	pods, rcs := d.Factory.Core().V1().Pods(), d.Factory.Core().V1().ReplicationControllers()
	adapt.Register(pods, rcs)
	start := func(ctx context.Context) (adapt.RunFunc, error) {
		return upstream.NewReplicationManager(ctx, pods, rcs, d.Client, opts.BurstReplicas).Run, nil
	}
	return &Controller{adapt.Runner{Log: d.Log, Start: start}}, nil
}
