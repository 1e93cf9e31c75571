package csrsigning

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	certinformers "k8s.io/client-go/informers/certificates/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubernetes/pkg/controller/certificates/signer"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	adapt "github.com/kinns/kinns/controlplane/controllers/internal/upstream"
)

// Workers is what kube-controller-manager runs each signer with.
const Workers = 5

// Options tune a Controller.
type Options struct {
	// CertFile and KeyFile are the CA that signs, PEM; required.
	CertFile, KeyFile string
	// TTL is the longest a signed certificate lives (default upstream's
	// --cluster-signing-duration, one year); a request's
	// expirationSeconds may ask for less.
	TTL time.Duration
}

// Controller is upstream's CSR signers in kinns' convention.
type Controller struct{ adapt.Runner }

// newSigner is the shape of each of upstream's signer constructors.
type newSigner func(context.Context, kubernetes.Interface, certinformers.CertificateSigningRequestInformer, string, string, time.Duration) (*signer.CSRSigningController, error)

// signers are upstream's constructors, one per signer name.
var signers = []newSigner{
	signer.NewKubeAPIServerClientCSRSigningController,
	signer.NewKubeletClientCSRSigningController,
	signer.NewKubeletServingCSRSigningController,
	signer.NewLegacyUnknownCSRSigningController,
}

// New registers the CertificateSigningRequest informer in d.Factory.
func New(d deps.Deps, opts Options) (*Controller, error) {
	d = d.Defaults()
	if opts.CertFile == "" || opts.KeyFile == "" {
		return nil, errors.New("csrsigning: the CA's CertFile and KeyFile are required")
	}
	if opts.TTL <= 0 {
		opts.TTL = 365 * 24 * time.Hour
	}
	csrs := d.Factory.Certificates().V1().CertificateSigningRequests()
	adapt.Register(csrs)
	start := func(ctx context.Context) (adapt.RunFunc, error) {
		var cs []*signer.CSRSigningController
		for _, n := range signers {
			c, err := n(ctx, d.Client, csrs, opts.CertFile, opts.KeyFile, opts.TTL)
			if err != nil {
				return nil, fmt.Errorf("load the signing CA %s: %w", opts.CertFile, err)
			}
			cs = append(cs, c)
		}
		return func(ctx context.Context, workers int) {
			var wg sync.WaitGroup
			for _, c := range cs {
				wg.Go(func() { c.Run(ctx, workers) })
			}
			wg.Wait()
		}, nil
	}
	return &Controller{adapt.Runner{Log: d.Log, Start: start}}, nil
}
