package csrapproving

import (
	"context"

	"k8s.io/kubernetes/pkg/controller/certificates/approver"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	adapt "github.com/kinns/kinns/controlplane/controllers/internal/upstream"
)

// Workers is what kube-controller-manager runs the approver with.
const Workers = 5

// Options tune a Controller; there is nothing to tune yet.
type Options struct{}

// Controller is upstream's CSR approver in kinns' convention.
type Controller struct{ adapt.Runner }

// New registers the CertificateSigningRequest informer in d.Factory.
func New(d deps.Deps, _ Options) (*Controller, error) {
	d = d.Defaults()
	csrs := d.Factory.Certificates().V1().CertificateSigningRequests()
	adapt.Register(csrs)
	start := func(ctx context.Context) (adapt.RunFunc, error) {
		return approver.NewCSRApprovingController(ctx, d.Client, csrs).Run, nil
	}
	return &Controller{adapt.Runner{Log: d.Log, Start: start}}, nil
}
