package controllers

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/events"
	"k8s.io/controller-manager/pkg/clientbuilder"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/leader"
)

// ReportingController prefixes the reportingController of every event the
// manager records: "kinns-controller-manager/<controller>".
const ReportingController = "kinns-controller-manager"

// LeaseName is the Lease, in kube-system, on which controller managers
// elect the one that acts, as upstream's kube-controller-manager does.
const LeaseName = "kube-controller-manager"

// Run is the controller manager: it builds every enabled controller, starts
// the shared informers and runs the controllers until ctx is done. It waits
// for the API server as long as it has to, so it may start before it.
//
// Informers watch as system:kube-controller-manager (which may list and
// watch everything); each controller writes as its own kube-system
// ServiceAccount, with short-lived tokens from the TokenRequest API, as
// kube-controller-manager does with --use-service-account-credentials.
//
// With cfg.LeaderElect, Run acts only while it holds the Lease
// kube-system/kube-controller-manager (as system:kube-controller-manager,
// whose bootstrap RBAC role allows it): standing by, it starts no informer
// and writes nothing but its attempts to acquire the Lease; on each term it
// builds the controllers and informers afresh, and when the term ends it
// stops them and waits for every worker before anyone else may act.
func Run(ctx context.Context, cfg Config) error {
	cfg.Defaults()
	if err := cfg.Validate(Names()); err != nil {
		return err
	}
	c, err := newClients(cfg)
	if err != nil {
		return err
	}
	return runElected(ctx, cfg, c)
}

// runElected runs the controllers at once or, with cfg.LeaderElect, during
// each term this instance holds the Lease.
func runElected(ctx context.Context, cfg Config, c clients) error {
	term := func(ctx context.Context) error { return runControllers(ctx, cfg, c) }
	return leader.RunConfigured(ctx, cfg.LeaderElection, c.lease, LeaseName, cfg.Log, term)
}

// runControllers is one term: it builds the enabled controllers on fresh
// informer factories, starts the informers and runs the controllers until
// ctx is done, and returns once all of them have stopped.
func runControllers(ctx context.Context, cfg Config, c clients) error {
	factory := informers.NewSharedInformerFactory(c.root, cfg.Resync)
	metaInf := metadatainformer.NewSharedInformerFactory(c.rootMeta, cfg.Resync)
	defer factory.Shutdown()
	defer metaInf.Shutdown()
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: c.root.EventsV1()})
	defer broadcaster.Shutdown()
	if err := broadcaster.StartRecordingToSinkWithContext(ctx); err != nil {
		return fmt.Errorf("start recording events: %w", err)
	}
	started := make(chan struct{})
	base := env{Deps: deps.Deps{Factory: factory}, cfg: cfg, metaInf: metaInf, started: started, rootCA: c.rootCA}
	// Every controller is built before the informers start, so each one's
	// informers (and indexers) are registered in time.
	type built struct {
		r       runner
		workers int
	}
	var runners []built
	for _, s := range specs {
		if !cfg.Enabled(s.name) {
			continue
		}
		r, err := build(ctx, s, base, c.account, broadcaster)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		runners = append(runners, built{r, workersOf(s, cfg)})
	}
	// Upstream controllers are made before the informers start too (see
	// upstream.Runner.Prepare).
	for _, b := range runners {
		if p, ok := b.r.(interface{ Prepare(context.Context) }); ok {
			p.Prepare(ctx)
		}
	}
	factory.Start(ctx.Done())
	metaInf.Start(ctx.Done())
	close(started)
	cfg.Log.Info("controller manager running", "controllers", len(runners), "workers", cfg.Workers,
		"nodeGrace", cfg.NodeMonitorGracePeriod, "nodeMonitorPeriod", cfg.NodeMonitorPeriod)

	var wg sync.WaitGroup
	for _, b := range runners {
		wg.Go(func() { b.r.Run(ctx, b.workers) })
	}
	wg.Wait()
	return nil
}

// clients are the manager's connections to the API server.
type clients struct {
	// root and rootMeta act as system:kube-controller-manager: informers
	// and events.
	root     kubernetes.Interface
	rootMeta metadata.Interface
	// lease, also as system:kube-controller-manager, has its own rate
	// limiter, so that nothing delays the Lease's renewals.
	lease kubernetes.Interface
	// account returns the clients of a controller acting as the named
	// kube-system ServiceAccount.
	account func(ctx context.Context, name string) (kubernetes.Interface, metadata.Interface, error)
	rootCA  []byte // the CA that signs the API server's certificate, PEM
}

// newClients connects as cfg.Kubeconfig says; nothing is sent to the API
// server yet.
func newClients(cfg Config) (clients, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return clients{}, fmt.Errorf("load kubeconfig %q: %w", cfg.Kubeconfig, err)
	}
	rootCA, err := caOf(rc)
	if err != nil {
		return clients{}, err
	}
	// A Lease request gives up after a third of RenewDeadline (see
	// leader.LeaseClientConfig).
	lease, err := kubernetes.NewForConfig(leader.LeaseClientConfig(rc, ReportingController+"/leader-election", max(cfg.RenewDeadline/3, 500*time.Millisecond)))
	if err != nil {
		return clients{}, fmt.Errorf("lease client for the controller manager: %w", err)
	}
	rc, client, meta, err := rootClients(rc, cfg)
	if err != nil {
		return clients{}, err
	}
	accounts := clientbuilder.NewDynamicClientBuilder(rest.AnonymousClientConfig(rc), client.CoreV1(), metav1.NamespaceSystem)
	account := func(ctx context.Context, name string) (kubernetes.Interface, metadata.Interface, error) {
		return accountClients(ctx, accounts, name, cfg)
	}
	return clients{root: client, rootMeta: meta, lease: lease, account: account, rootCA: rootCA}, nil
}

// rootClients are the manager's own clients, as system:kube-controller-manager:
// root with the manager's rate limits, fence and user agent, and the clients
// made from it.
func rootClients(root *rest.Config, cfg Config) (*rest.Config, kubernetes.Interface, metadata.Interface, error) {
	root.QPS, root.Burst = cfg.QPS, cfg.Burst
	root.Wrap(leader.Fence)                        // no request of a term past its deadline is sent
	root.WarningHandler = newOnceWarnings(cfg.Log) // inherited by every account's config
	root = rest.AddUserAgent(root, ReportingController)
	client, err := kubernetes.NewForConfig(root)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("client for the controller manager: %w", err)
	}
	meta, err := metadata.NewForConfig(root)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("metadata client for the controller manager: %w", err)
	}
	return root, client, meta, nil
}

// caOf returns the CA the manager trusts the API server with, which is the
// one pods must trust too.
func caOf(rc *rest.Config) ([]byte, error) {
	if len(rc.TLSClientConfig.CAData) > 0 {
		return rc.TLSClientConfig.CAData, nil
	}
	if rc.TLSClientConfig.CAFile != "" {
		b, err := os.ReadFile(rc.TLSClientConfig.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read the API server's CA: %w", err)
		}
		return b, nil
	}
	return nil, nil // no CA: the root CA publisher refuses to start
}

// build makes one controller with clients acting as its ServiceAccount.
func build(ctx context.Context, s spec, e env, account func(context.Context, string) (kubernetes.Interface, metadata.Interface, error), b events.EventBroadcaster) (runner, error) {
	var err error
	if e.Client, e.meta, err = account(ctx, s.account); err != nil {
		return nil, fmt.Errorf("clients for controller %s: %w", s.name, err)
	}
	e.Log = e.cfg.Log.With("controller", s.name)
	e.Recorder = b.NewRecorder(scheme.Scheme, ReportingController+"/"+s.name)
	r, err := s.build(e)
	if err != nil {
		return nil, fmt.Errorf("build controller %s: %w", s.name, err)
	}
	return r, nil
}

// accountClients returns the clients of a kube-system ServiceAccount,
// creating the account if needed; it retries until the API server answers
// or ctx is done.
func accountClients(ctx context.Context, accounts clientbuilder.ControllerClientBuilder, name string, cfg Config) (kubernetes.Interface, metadata.Interface, error) {
	rc, err := accountConfig(ctx, accounts, name, cfg)
	if err != nil {
		return nil, nil, err
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, fmt.Errorf("client as %s: %w", name, err)
	}
	meta, err := metadata.NewForConfig(rc)
	if err != nil {
		return nil, nil, fmt.Errorf("metadata client as %s: %w", name, err)
	}
	return client, meta, nil
}

// accountConfig returns the client config of a kube-system ServiceAccount,
// creating the account if needed; it retries until the API server answers or
// ctx is done.
func accountConfig(ctx context.Context, accounts clientbuilder.ControllerClientBuilder, name string, cfg Config) (*rest.Config, error) {
	var rc *rest.Config
	backoff := wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Cap: 5 * time.Second, Steps: 1 << 30}
	err := wait.ExponentialBackoffWithContext(ctx, backoff, func(context.Context) (bool, error) {
		c, err := accounts.Config(name)
		if err != nil {
			cfg.Log.Info("waiting for the API server to set up a controller account", "account", name, "err", err)
			return false, nil
		}
		rc = c
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("service account %s/%s: %w", metav1.NamespaceSystem, name, err)
	}
	rc.QPS, rc.Burst = cfg.QPS, cfg.Burst
	rc.Wrap(leader.Fence) // not inherited from the root config
	return rc, nil
}
