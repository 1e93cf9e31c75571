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
)

// ReportingController prefixes the reportingController of every event the
// manager records: "kinns-controller-manager/<controller>".
const ReportingController = "kinns-controller-manager"

// Run is the controller manager: it builds every enabled controller, starts
// the shared informers and runs the controllers until ctx is done. It waits
// for the API server as long as it has to, so it may start before it.
//
// Informers watch as system:kube-controller-manager (which may list and
// watch everything); each controller writes as its own kube-system
// ServiceAccount, with short-lived tokens from the TokenRequest API, as
// kube-controller-manager does with --use-service-account-credentials.
//
// There is no leader election: one manager runs per lab. For HA, wrap the
// body in k8s.io/client-go/tools/leaderelection on a Lease named
// kube-controller-manager in kube-system (the RBAC role already allows it)
// and run it in OnStartedLeading, cancelling on OnStoppedLeading.
func Run(ctx context.Context, cfg Config) error {
	cfg.Defaults()
	if err := cfg.Validate(Names()); err != nil {
		return err
	}
	log := cfg.Log
	root, rootClient, rootMeta, err := rootClients(cfg)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(rootClient, cfg.Resync)
	metaInf := metadatainformer.NewSharedInformerFactory(rootMeta, cfg.Resync)
	defer factory.Shutdown()
	defer metaInf.Shutdown()
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: rootClient.EventsV1()})
	if err := broadcaster.StartRecordingToSinkWithContext(ctx); err != nil {
		return fmt.Errorf("start recording events: %w", err)
	}
	defer broadcaster.Shutdown()

	accounts := clientbuilder.NewDynamicClientBuilder(rest.AnonymousClientConfig(root), rootClient.CoreV1(), metav1.NamespaceSystem)
	started := make(chan struct{})
	rootCA, err := caOf(root)
	if err != nil {
		return err
	}
	base := env{Deps: deps.Deps{Factory: factory}, cfg: cfg, metaInf: metaInf, started: started, rootCA: rootCA}
	// Every controller is built before the informers start, so each one's
	// informers (and indexers) are registered in time.
	runners := map[string]runner{}
	for _, s := range specs {
		if !cfg.Enabled(s.name) {
			continue
		}
		r, err := build(ctx, s, base, accounts, broadcaster)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		runners[s.name] = r
	}
	factory.Start(ctx.Done())
	metaInf.Start(ctx.Done())
	close(started)
	log.Info("controller manager running", "controllers", len(runners), "workers", cfg.Workers,
		"nodeGrace", cfg.NodeMonitorGracePeriod, "nodeMonitorPeriod", cfg.NodeMonitorPeriod)

	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Go(func() { r.Run(ctx, cfg.Workers) })
	}
	wg.Wait()
	return nil
}

// rootClients are the manager's own clients, as system:kube-controller-manager.
func rootClients(cfg Config) (*rest.Config, kubernetes.Interface, metadata.Interface, error) {
	root, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("load kubeconfig %q: %w", cfg.Kubeconfig, err)
	}
	root.QPS, root.Burst = cfg.QPS, cfg.Burst
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

// build makes one controller with a client acting as its ServiceAccount.
func build(ctx context.Context, s spec, e env, accounts clientbuilder.ControllerClientBuilder, b events.EventBroadcaster) (runner, error) {
	rc, err := accountConfig(ctx, accounts, s.account, e.cfg)
	if err != nil {
		return nil, err
	}
	if e.Client, err = kubernetes.NewForConfig(rc); err != nil {
		return nil, fmt.Errorf("client for controller %s: %w", s.name, err)
	}
	if e.meta, err = metadata.NewForConfig(rc); err != nil {
		return nil, fmt.Errorf("metadata client for controller %s: %w", s.name, err)
	}
	e.Log = e.cfg.Log.With("controller", s.name)
	e.Recorder = b.NewRecorder(scheme.Scheme, ReportingController+"/"+s.name)
	r, err := s.build(e)
	if err != nil {
		return nil, fmt.Errorf("build controller %s: %w", s.name, err)
	}
	return r, nil
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
	return rc, nil
}
