package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kinns/kinns/controlplane/apiready"
)

// Services and slices the proxy leaves alone, as kube-proxy does: those
// another proxy implements, and headless ones (which have no virtual IP).
const ignoredSelector = "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless"

// retryAfter is when a failed sync is tried again.
const retryAfter = time.Second

// deps are the proxy's side effects, replaced by fakes in tests.
type deps struct {
	client kubernetes.Interface
	ipt    IPTables
	ct     Conntrack
	now    func() time.Time
}

// Run runs the node's proxy until ctx ends, with the real iptables and
// conntrack of the namespace it runs in. ready is called once the first
// sync is in place. The rules stay when it returns, as kube-proxy's do, so
// Services keep working while the proxy restarts.
func Run(ctx context.Context, cfg Config, ready func()) error {
	p, err := parse(cfg)
	if err != nil {
		return err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	rc.UserAgent = "kinns-proxy/" + cfg.NodeName
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("make API client: %w", err)
	}
	// The harness may start the proxy while the API server boots.
	if err := apiready.Wait(ctx, client.Discovery().RESTClient(), p.Log); err != nil {
		return nil
	}
	return run(ctx, p, deps{client: client, ipt: ExecIPTables{}, ct: NetlinkConntrack{}, now: time.Now}, ready)
}

func run(ctx context.Context, cfg parsed, d deps, ready func()) error {
	if d.now == nil {
		d.now = time.Now
	}
	factory := informers.NewSharedInformerFactoryWithOptions(d.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = ignoredSelector }))
	services, slices := factory.Core().V1().Services(), factory.Discovery().V1().EndpointSlices()
	z := &healthz{syncPeriod: cfg.SyncPeriod, now: d.now}
	l := &loop{trigger: make(chan struct{}, 1), z: z, log: cfg.Log, minSync: cfg.MinSyncPeriod, syncPeriod: cfg.SyncPeriod, ready: ready}
	for _, inf := range []cache.SharedIndexInformer{services.Informer(), slices.Informer()} {
		if _, err := inf.AddEventHandler(l.handler()); err != nil {
			return fmt.Errorf("watch: %w", err)
		}
	}
	m := newMetrics()
	hc := newHealthChecks(cfg.nodeIP.String(), cfg.Log)
	defer hc.closeAll()
	l.s = &syncer{cfg: cfg, ipt: d.ipt, ct: d.ct, services: services.Lister(), slices: slices.Lister(), health: hc, metrics: m, now: d.now}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), services.Informer().HasSynced, slices.Informer().HasSynced) {
		return nil // stopped before the caches filled
	}
	mux := http.NewServeMux()
	mux.Handle("/healthz", z)
	mux.Handle("/livez", z)
	mux.Handle("/metrics", m.handler())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serve(gctx, cfg.HealthzAddress, mux) })
	g.Go(func() error { return serve(gctx, cfg.MetricsAddress, mux) })
	g.Go(func() error { l.run(gctx, m); return nil })
	return g.Wait()
}

// loop runs syncs: at once after a change, but never closer together than
// minSync; every syncPeriod even with no change; after retryAfter when one
// failed.
type loop struct {
	s          *syncer
	trigger    chan struct{}
	z          *healthz
	log        *slog.Logger
	minSync    time.Duration
	syncPeriod time.Duration
	ready      func()
}

func (l *loop) handler() cache.ResourceEventHandler {
	kick := func() {
		l.z.changed()
		select {
		case l.trigger <- struct{}{}:
		default:
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { kick() },
		UpdateFunc: func(any, any) { kick() },
		DeleteFunc: func(any) { kick() },
	}
}

func (l *loop) run(ctx context.Context, m *metrics) {
	timer := time.NewTimer(0) // the first sync at once
	defer timer.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.trigger:
		case <-timer.C:
		}
		if !sleep(ctx, time.Until(last.Add(l.minSync))) {
			return
		}
		select { // what came in while waiting is in this sync
		case <-l.trigger:
		default:
		}
		last = time.Now()
		next := l.syncPeriod
		if err := l.s.sync(ctx); err != nil {
			m.syncErrors.Inc()
			l.log.Warn("sync failed, will retry", "in", retryAfter, "err", err)
			next = retryAfter
		} else {
			l.z.synced(last)
			l.firstReady()
		}
		timer.Stop()
		timer.Reset(next)
	}
}

func (l *loop) firstReady() {
	if l.ready != nil {
		l.log.Info("rules in place")
		l.ready()
		l.ready = nil
	}
}

// sleep waits d, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
