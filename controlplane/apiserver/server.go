package apiserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"

	"go.etcd.io/etcd/client/pkg/v3/transport"

	"github.com/spf13/pflag"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/rest"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
	"k8s.io/kubernetes/cmd/kube-apiserver/app/options"
)

// Run serves the API until ctx is done. probe reports etcd's quorum (nil: the
// store can commit); it feeds the quorum guard.
func Run(ctx context.Context, cfg Config, probe func(context.Context) error) error {
	cfg.Defaults()
	err := cfg.Validate()
	if err != nil {
		return err
	}
	// The etcd relay and the quorum guard outlive ctx until the server has
	// shut down: its graceful shutdown still reads and writes the store
	// (requests in flight, its lease), and without its store it hung, its
	// /readyz unanswered, until it was killed.
	storeCtx, stopStore := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStore()
	if len(cfg.EtcdLivez) > 0 {
		var checks *tls.Config
		if cfg.EtcdCAFile != "" {
			info := transport.TLSInfo{CertFile: cfg.EtcdCertFile, KeyFile: cfg.EtcdKeyFile, TrustedCAFile: cfg.EtcdCAFile}
			if checks, err = info.ClientConfig(); err != nil {
				return fmt.Errorf("etcd client certificate %s: %w", cfg.EtcdCertFile, err)
			}
		}
		relay, err := startEtcdFailover(storeCtx, cfg.EtcdServers, cfg.EtcdLivez, checks, cfg.Log)
		if err != nil {
			return err
		}
		cfg.EtcdServers = []string{relay}
	}
	opts, err := parseOptions(cfg)
	if err != nil {
		return err
	}
	completed, err := opts.Complete(ctx)
	if err != nil {
		return fmt.Errorf("complete api server options: %w", err)
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return fmt.Errorf("invalid api server options: %w", utilerrors.NewAggregate(errs))
	}
	guard := &QuorumGuard{Probe: probe, Interval: cfg.QuorumProbeInterval, Timeout: cfg.QuorumProbeTimeout, Log: cfg.Log}
	go guard.Run(storeCtx)
	return serve(ctx, completed, guard)
}

// parseOptions builds kube-apiserver's options from our flags, exactly as its own
// command line would.
func parseOptions(cfg Config) (*options.ServerRunOptions, error) {
	s := options.NewServerRunOptions()
	fs := pflag.NewFlagSet("kube-apiserver", pflag.ContinueOnError)
	for _, f := range s.Flags().FlagSets {
		fs.AddFlagSet(f)
	}
	if err := fs.Parse(cfg.Flags()); err != nil {
		return nil, fmt.Errorf("api server flags: %w", err)
	}
	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return nil, fmt.Errorf("api server feature gates: %w", err)
	}
	// The API server's own loopback clients should not log warnings it issued.
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	return s, nil
}

// serve mirrors kube-apiserver's Run, with the quorum guard placed inside the
// outermost (aggregator) handler chain, after authentication and request info.
func serve(ctx context.Context, opts options.CompletedOptions, guard *QuorumGuard) error {
	config, err := app.NewConfig(opts)
	if err != nil {
		return fmt.Errorf("api server config: %w", err)
	}
	chain := config.Aggregator.GenericConfig.BuildHandlerChainFunc
	config.Aggregator.GenericConfig.BuildHandlerChainFunc = func(h http.Handler, c *genericapiserver.Config) http.Handler {
		return chain(guard.Wrap(h), c)
	}
	completed, err := config.Complete()
	if err != nil {
		return err
	}
	server, err := app.CreateServerChain(completed)
	if err != nil {
		return fmt.Errorf("create api server: %w", err)
	}
	prepared, err := server.PrepareRun()
	if err != nil {
		return fmt.Errorf("prepare api server: %w", err)
	}
	return prepared.Run(ctx)
}
