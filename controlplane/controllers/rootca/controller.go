package rootca

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	upstream "k8s.io/kubernetes/pkg/controller/certificates/rootcacertpublisher"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
)

// Options tune a Controller.
type Options struct {
	// CA is the PEM certificate (or bundle) to publish; required.
	CA []byte
}

// Controller keeps kube-root-ca.crt in every namespace.
type Controller struct {
	log       *slog.Logger
	publisher *upstream.Publisher
}

// New registers ConfigMap and Namespace informers in d.Factory. d.Recorder
// is unused: upstream's publisher records no events.
func New(d deps.Deps, opts Options) (*Controller, error) {
	d = d.Defaults()
	if len(opts.CA) == 0 {
		return nil, errors.New("rootca: no CA certificate to publish")
	}
	p, err := upstream.NewPublisher(d.Factory.Core().V1().ConfigMaps(), d.Factory.Core().V1().Namespaces(), d.Client, opts.CA)
	if err != nil {
		return nil, fmt.Errorf("rootca: %w", err)
	}
	return &Controller{log: d.Log, publisher: p}, nil
}

// Run publishes with workers goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(c.log.Handler()))
	c.log.Info("starting")
	c.publisher.Run(ctx, workers)
}
