package vacprotection

import (
	"context"

	"k8s.io/klog/v2"
	upstream "k8s.io/kubernetes/pkg/controller/volume/vacprotection"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	adapt "github.com/kinns/kinns/controlplane/controllers/internal/upstream"
)

// Workers is the worker count kube-controller-manager gives it.
const Workers = 1

// Options tune a Controller; there is nothing to tune yet.
type Options struct{}

// Controller is upstream's VolumeAttributesClass protection controller in
// kinns' convention.
type Controller struct{ adapt.Runner }

// New registers the claim, volume and VolumeAttributesClass informers in
// d.Factory.
func New(d deps.Deps, _ Options) (*Controller, error) {
	d = d.Defaults()
	claims, volumes := d.Factory.Core().V1().PersistentVolumeClaims(), d.Factory.Core().V1().PersistentVolumes()
	classes := d.Factory.Storage().V1().VolumeAttributesClasses()
	adapt.Register(claims, volumes, classes)
	start := func(ctx context.Context) (adapt.RunFunc, error) {
		c, err := upstream.NewVACProtectionController(klog.FromContext(ctx), d.Client, claims, volumes, classes)
		if err != nil {
			return nil, err
		}
		return c.Run, nil
	}
	return &Controller{adapt.Runner{Log: d.Log, Start: start}}, nil
}
