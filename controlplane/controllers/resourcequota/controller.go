package resourcequota

import (
	"context"
	"errors"
	"sync"
	"time"

	"k8s.io/apiserver/pkg/quota/v1/generic"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/controller-manager/pkg/informerfactory"
	"k8s.io/kubernetes/pkg/controller"
	upstream "k8s.io/kubernetes/pkg/controller/resourcequota"
	quotainstall "k8s.io/kubernetes/pkg/quota/v1/install"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	adapt "github.com/kinns/kinns/controlplane/controllers/internal/upstream"
)

// Workers is kube-controller-manager's default --concurrent-resource-quota-syncs.
const Workers = 5

// Options tune a Controller.
type Options struct {
	// MetadataInformers watches the quotable resources the typed factory
	// does not know; required. The caller starts it.
	MetadataInformers metadatainformer.SharedInformerFactory
	// InformersStarted is closed by the caller once the shared factories
	// have been started; required.
	InformersStarted <-chan struct{}
	// Discovery lists the quotable resources (default: the clientset's).
	Discovery discovery.DiscoveryInterface
	// SyncPeriod recalculates every quota's usage this often (default
	// upstream's, 5 min); ResyncPeriod replays the watched objects (default
	// 12 h, about upstream's).
	SyncPeriod, ResyncPeriod time.Duration
	// DiscoveryPeriod is how often new quotable resources are looked for
	// (default 30 s, upstream's).
	DiscoveryPeriod time.Duration
}

// Controller is upstream's ResourceQuota controller in kinns' convention.
type Controller struct{ adapt.Runner }

// New registers the ResourceQuota and pod informers in d.Factory.
func New(d deps.Deps, opts Options) (*Controller, error) {
	d = d.Defaults()
	if opts.MetadataInformers == nil || opts.InformersStarted == nil {
		return nil, errors.New("resourcequota: MetadataInformers and InformersStarted are required")
	}
	opts = opts.withDefaults(d)
	quotas := d.Factory.Core().V1().ResourceQuotas()
	adapt.Register(quotas, d.Factory.Core().V1().Pods())
	start := func(ctx context.Context) (adapt.RunFunc, error) { return build(ctx, d, opts) }
	return &Controller{adapt.Runner{Log: d.Log, Start: start}}, nil
}

func (o Options) withDefaults(d deps.Deps) Options {
	if o.Discovery == nil {
		o.Discovery = d.Client.Discovery()
	}
	if o.SyncPeriod <= 0 {
		o.SyncPeriod = 5 * time.Minute
	}
	if o.ResyncPeriod <= 0 {
		o.ResyncPeriod = 12 * time.Hour
	}
	if o.DiscoveryPeriod <= 0 {
		o.DiscoveryPeriod = 30 * time.Second
	}
	return o
}

// build waits for discovery, then makes upstream's controller and returns
// its workers beside its discovery loop.
func build(ctx context.Context, d deps.Deps, o Options) (adapt.RunFunc, error) {
	discover := o.Discovery.ServerPreferredNamespacedResources
	if err := adapt.WaitDiscovery(ctx, d.Log, discover); err != nil {
		return nil, err
	}
	typed := d.Factory
	cfg, err := quotainstall.NewQuotaConfigurationForControllers(generic.ListerFuncForResourceFunc(typed.ForResource), typed)
	if err != nil {
		return nil, err
	}
	rq, err := upstream.NewController(ctx, &upstream.ControllerOptions{
		QuotaClient:               d.Client.CoreV1(),
		ResourceQuotaInformer:     typed.Core().V1().ResourceQuotas(),
		ResyncPeriod:              controller.StaticResyncPeriodFunc(o.SyncPeriod),
		InformerFactory:           informerfactory.NewInformerFactory(typed, o.MetadataInformers),
		ReplenishmentResyncPeriod: controller.StaticResyncPeriodFunc(o.ResyncPeriod),
		DiscoveryFunc:             discover,
		IgnoredResourcesFunc:      cfg.IgnoredResources,
		InformersStarted:          o.InformersStarted,
		Registry:                  generic.NewRegistry(cfg.Evaluators()),
		UpdateFilter:              quotainstall.DefaultUpdateFilter(),
	})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, workers int) {
		var wg sync.WaitGroup
		wg.Go(func() { rq.Run(ctx, workers) })
		wg.Go(func() { rq.Sync(ctx, discover, o.DiscoveryPeriod) })
		wg.Wait()
	}, nil
}
