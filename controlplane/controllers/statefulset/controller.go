package statefulset

import (
	"context"

	upstream "k8s.io/kubernetes/pkg/controller/statefulset"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	adapt "github.com/kinns/kinns/controlplane/controllers/internal/upstream"
)

// Workers is kube-controller-manager's default --concurrent-statefulset-syncs.
const Workers = 5

// Options tune a Controller; there is nothing to tune yet.
type Options struct{}

// Controller is upstream's StatefulSet controller in kinns' convention.
type Controller struct{ adapt.Runner }

// New registers the pod, StatefulSet, PersistentVolumeClaim and
// ControllerRevision informers in d.Factory.
func New(d deps.Deps, _ Options) (*Controller, error) {
	d = d.Defaults()
	f := d.Factory
	pods, sets, pvcs, revs := f.Core().V1().Pods(), f.Apps().V1().StatefulSets(), f.Core().V1().PersistentVolumeClaims(), f.Apps().V1().ControllerRevisions()
	adapt.Register(pods, sets, pvcs, revs)
	start := func(ctx context.Context) (adapt.RunFunc, error) {
		return upstream.NewStatefulSetController(ctx, pods, sets, pvcs, revs, d.Client).Run, nil
	}
	return &Controller{adapt.Runner{Log: d.Log, Start: start}}, nil
}
