package rootca

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/go-logr/logr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	upstream "k8s.io/kubernetes/pkg/controller/certificates/rootcacertpublisher"

	"github.com/kinns/kinns/controlplane/controllers/internal/loop"
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

// New registers ConfigMap and Namespace informers in factory. rec is unused:
// upstream's publisher records no events.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, rec events.EventRecorder, log *slog.Logger, opts Options) (*Controller, error) {
	log = loop.OrDiscard(log)
	if len(opts.CA) == 0 {
		return nil, errors.New("rootca: no CA certificate to publish")
	}
	p, err := upstream.NewPublisher(factory.Core().V1().ConfigMaps(), factory.Core().V1().Namespaces(), client, opts.CA)
	if err != nil {
		return nil, fmt.Errorf("rootca: %w", err)
	}
	return &Controller{log: log, publisher: p}, nil
}

// Run publishes with workers goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(c.log.Handler()))
	c.log.Info("starting")
	c.publisher.Run(ctx, workers)
}
