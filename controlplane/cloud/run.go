package cloud

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	servicecontroller "k8s.io/cloud-provider/controllers/service"
	"k8s.io/component-base/featuregate"
	controllersmetrics "k8s.io/component-base/metrics/prometheus/controllers"

	"github.com/kinns/kinns/controlplane/cloud/config"
	"github.com/kinns/kinns/controlplane/controllers/leader"
	"github.com/kinns/kinns/controlplane/forward"
)

// LeaseName is the Lease, in kube-system, on which cloud controller
// managers elect the one that acts, as upstream's does.
const LeaseName = "cloud-controller-manager"

// UserAgent is the manager's user agent.
const UserAgent = "kinns-cloud-controller-manager"

// Run is the cloud controller manager: during each term it holds the
// Lease (or at once, without leader election) it runs the upstream
// service controller on the lab's Provider, routes the addresses on the
// fabric, and gives nodes their providerID. It returns when ctx is done.
func Run(ctx context.Context, cfg config.Config) error {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig %q: %w", cfg.Kubeconfig, err)
	}
	lease, err := kubernetes.NewForConfig(leader.LeaseClientConfig(rc, UserAgent+"/leader-election", max(cfg.RenewDeadline/3, 500*time.Millisecond)))
	if err != nil {
		return fmt.Errorf("lease client: %w", err)
	}
	rc.QPS, rc.Burst = 50, 100
	rc = rest.AddUserAgent(rc, UserAgent)
	return leader.RunConfigured(ctx, cfg.LeaderElection, lease, LeaseName, cfg.Log, func(ctx context.Context) error {
		return term(ctx, cfg, rc)
	})
}

// termClient is the term's client: no request is sent once the term is
// over or past its deadline, whatever the context it is made with. The
// upstream service controller writes a Service's status and finalizer
// with context.TODO(), which leader.Fence (that reads the request's
// context) cannot tell from a term's: an instance that stalled between
// allocating an address and writing it must not write it after another
// leader has given that address to someone else.
func termClient(term context.Context, rc *rest.Config) (kubernetes.Interface, error) {
	c := rest.CopyConfig(rc)
	c.Wrap(leader.Fence)
	c.Wrap(fencedTo(term))
	client, err := kubernetes.NewForConfig(c)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return client, nil
}

func fencedTo(term context.Context) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper {
		return termFence{term: term, next: next}
	}
}

type termFence struct {
	term context.Context
	next http.RoundTripper
}

func (f termFence) RoundTrip(req *http.Request) (*http.Response, error) {
	if f.term.Err() != nil || !leader.Acting(f.term) {
		return nil, leader.ErrNotLeader
	}
	return f.next.RoundTrip(req)
}

// WrappedRoundTripper lets client-go see through the wrapper.
func (f termFence) WrappedRoundTripper() http.RoundTripper { return f.next }

// term is one term: fresh informers, a provider seeded from the Services'
// status, the routing loop and the service controller, until ctx ends.
func term(ctx context.Context, cfg config.Config, rc *rest.Config) error {
	pool, err := NewPool(cfg.Pool)
	if err != nil {
		return err
	}
	client, err := termClient(ctx, rc)
	if err != nil {
		return err
	}
	// A resync period, so the service controller's node resync (every
	// 100 s: nodes whose change it missed) works.
	factory := informers.NewSharedInformerFactory(client, 30*time.Second)
	defer factory.Shutdown()
	services, nodes := newRetryingInformer(factory.Core().V1().Services()), factory.Core().V1().Nodes()
	p := NewProvider(cfg.Lab, pool)
	p.retry = services.Retry
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	r := newRouter(p, netlinkFabric{netns: cfg.FabricNetns, bridge: cfg.Bridge, router: cfg.RouterLink, pool: pool},
		nodes.Lister(), newChecker(httpGetOK(hc), cfg.CheckInterval), cfg.HealthPort, cfg.CheckInterval, cfg.Log)
	sc, err := servicecontroller.New(p, client, services, nodes, cfg.Lab, featuregate.NewFeatureGate())
	if err != nil {
		return fmt.Errorf("service controller: %w", err)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), services.Informer().HasSynced, nodes.Informer().HasSynced) {
		return nil // the term ended first
	}
	seeded := seed(p, services.Lister(), nodes.Lister())
	cfg.Log.Info("cloud controller manager running", "pool", pool.String(), "seeded", seeded)
	var wg sync.WaitGroup
	wg.Go(func() { r.run(ctx) })
	wg.Go(func() { initNodes(ctx, client, p, nodes.Lister(), cfg.CheckInterval, cfg.Log) })
	sc.Run(ctx, cfg.Workers, controllersmetrics.NewControllerManagerMetrics("cloud-controller-manager"))
	wg.Wait()
	return nil
}

// seed takes up the addresses the Services' status already has, before
// the service controller allocates any: a restarted or new leader keeps
// every Service's address, and their routes.
func seed(p *Provider, services corelisters.ServiceLister, nodes corelisters.NodeLister) int {
	ns, _ := nodes.List(labels.Everything())
	names := make([]string, 0, len(ns))
	for _, n := range ns {
		names = append(names, n.Name)
	}
	svcs, _ := services.List(labels.Everything())
	n := 0
	for _, s := range svcs {
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.LoadBalancerClass == nil && s.DeletionTimestamp == nil && p.Seed(s, names) {
			n++
		}
	}
	return n
}

// httpGetOK checks a URL with c: 200 OK or an error that says what came.
func httpGetOK(c *http.Client) func(ctx context.Context, url string) error {
	return func(ctx context.Context, url string) error { return forward.GetOK(ctx, c, url) }
}
