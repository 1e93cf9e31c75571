package garbagecollector

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/restmapper"
	"k8s.io/controller-manager/pkg/informerfactory"
	"k8s.io/klog/v2"
	upstream "k8s.io/kubernetes/pkg/controller/garbagecollector"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
)

// Options tune a Controller.
type Options struct {
	// Metadata reads owners and deletes or patches dependents; required.
	Metadata metadata.Interface
	// MetadataInformers watches the resources the typed factory does not
	// know (custom resources); required. The caller starts it.
	MetadataInformers metadatainformer.SharedInformerFactory
	// InformersStarted is closed by the caller once the shared factories
	// have been started; the collector starts its own monitors only after.
	InformersStarted <-chan struct{}
	// Discovery lists the deletable resources (default: the clientset's).
	Discovery discovery.DiscoveryInterface
	// SyncPeriod is how often discovery is checked for new resources
	// (default 30 s, upstream's).
	SyncPeriod time.Duration
}

// Controller is upstream's garbage collector in kinns' convention.
type Controller struct {
	client kubernetes.Interface
	log    *slog.Logger
	opts   Options
	typed  informers.SharedInformerFactory
}

// New prepares the collector; the dependency graph is built in Run, once
// discovery has been read.
func New(d deps.Deps, opts Options) (*Controller, error) {
	d = d.Defaults()
	if opts.Discovery == nil {
		opts.Discovery = d.Client.Discovery()
	}
	if opts.SyncPeriod <= 0 {
		opts.SyncPeriod = 30 * time.Second
	}
	return &Controller{client: d.Client, log: d.Log, opts: opts, typed: d.Factory}, nil
}

// Run collects garbage with workers goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(c.log.Handler()))
	if c.opts.Metadata == nil || c.opts.MetadataInformers == nil || c.opts.InformersStarted == nil {
		c.log.Error("garbage collector needs Metadata, MetadataInformers and InformersStarted: disabled")
		<-ctx.Done()
		return
	}
	// The mapper gets its own cached discovery: Sync resets the mapper, and
	// must not invalidate the client it compares discovery results with.
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.opts.Discovery))
	shared := informerfactory.NewInformerFactory(c.typed, c.opts.MetadataInformers)
	gc, err := upstream.NewGarbageCollector(ctx, c.client, c.opts.Metadata, mapper,
		upstream.DefaultIgnoredResources(), shared, c.opts.InformersStarted)
	if err != nil {
		c.log.Error("create garbage collector", "err", err)
		<-ctx.Done()
		return
	}
	c.log.Info("starting", "syncPeriod", c.opts.SyncPeriod)
	var wg sync.WaitGroup
	wg.Go(func() { gc.Run(ctx, workers, c.opts.SyncPeriod) })
	wg.Go(func() { gc.Sync(ctx, c.opts.Discovery, c.opts.SyncPeriod) })
	wg.Wait()
}
