package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kinns/kinns/cmd/internal/component"
	"github.com/kinns/kinns/cmd/internal/runkubelet"
	"github.com/kinns/kinns/cmd/internal/runproxy"
	"github.com/kinns/kinns/controlplane/apiserver"
	"github.com/kinns/kinns/controlplane/cloud"
	cloudconfig "github.com/kinns/kinns/controlplane/cloud/config"
	"github.com/kinns/kinns/controlplane/controllers"
	"github.com/kinns/kinns/controlplane/dns"
	"github.com/kinns/kinns/controlplane/etcd"
	"github.com/kinns/kinns/controlplane/forward"
	"github.com/kinns/kinns/controlplane/scheduler"
	"github.com/kinns/kinns/harness/linkfault"
)

// runners has the code of each kind of the harness's component table
// (harness.ComponentKinds); a kind without one is a build-time mistake that
// TestEveryComponentKindRuns catches. The node's kinds also have binaries of
// their own (cmd/lab-kubelet, cmd/lab-proxy), which the harness prefers;
// these let a lone lab binary run them too.
var runners = map[string]component.Runner{
	"etcd":        runEtcd,
	"forward":     runForward,
	"apilb":       runBalancer,
	"apiserver":   runAPIServer,
	"scheduler":   runScheduler,
	"controllers": runControllers,
	"kubelet":     runkubelet.Run,
	"proxy":       runproxy.Run,
	"dns":         runDNS,
	"cloud":       runCloud,
	"delayer":     runDelayer,
}

// newComponentCmd is what the harness runs, inside a lab host's namespace, for
// each component process: one subcommand per kind of the component table.
// It is not meant for people.
func newComponentCmd() *cobra.Command { return component.NewCmd(runners) }

func runEtcd(ctx context.Context, f component.Flags, log *slog.Logger) error {
	var cfg etcd.Config
	if err := f.Load(&cfg); err != nil {
		return err
	}
	cfg.Log, cfg.EtcdLog = log, os.Stderr
	m, err := etcd.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer m.Close()
	f.Ready()
	return m.Wait(ctx)
}

func runAPIServer(ctx context.Context, f component.Flags, log *slog.Logger) error {
	var cfg apiserver.Config
	if err := f.Load(&cfg); err != nil {
		return err
	}
	cfg.Log = log
	if err := classicKeyExchange(); err != nil {
		return err
	}
	quorum, err := etcd.NewQuorumChecker(cfg.Etcd())
	if err != nil {
		return err
	}
	defer quorum.Close()
	probe := func(ctx context.Context) error { return quorum.Check(ctx, cfg.QuorumProbeTimeout) }
	return apiserver.Run(ctx, cfg, probe)
}

// classicKeyExchange has this process's TLS use X25519 alone, not Go's
// default hybrid X25519MLKEM768. The API server opens its some 200 etcd
// connections one after another while it starts, each a full TLS handshake,
// and the hybrid's key generation made that a measurable part of `lab up`.
// Inside a lab, on one host, post-quantum key exchange protects nothing.
// Changing GODEBUG at run time updates crypto/tls's setting.
func classicKeyExchange() error {
	return os.Setenv("GODEBUG", strings.TrimPrefix(os.Getenv("GODEBUG")+",tlsmlkem=0", ","))
}

func runScheduler(ctx context.Context, f component.Flags, log *slog.Logger) error {
	var cfg scheduler.Config
	if err := f.Load(&cfg); err != nil {
		return err
	}
	cfg.Log = log
	f.Ready() // it serves from here on; its caches fill within the first second
	return scheduler.Run(ctx, cfg)
}

func runControllers(ctx context.Context, f component.Flags, log *slog.Logger) error {
	var cfg controllers.Config
	if err := f.Load(&cfg); err != nil {
		return err
	}
	cfg.Log = log
	f.Ready()
	return controllers.Run(ctx, cfg)
}

func runDNS(ctx context.Context, f component.Flags, log *slog.Logger) error {
	var cfg dns.Config
	if err := f.Load(&cfg); err != nil {
		return err
	}
	cfg.Log = log
	return dns.Run(ctx, cfg, f.Ready)
}

func runCloud(ctx context.Context, f component.Flags, log *slog.Logger) error {
	var cfg cloudconfig.Config
	if err := f.Load(&cfg); err != nil {
		return err
	}
	cfg.Log = log
	f.Ready() // it serves once it holds the Lease; a standby waits for it
	return cloud.Run(ctx, cfg)
}

func runForward(ctx context.Context, f component.Flags, log *slog.Logger) error {
	var cfg forward.Config
	if err := f.Load(&cfg); err != nil {
		return err
	}
	ln, err := net.FileListener(os.NewFile(uintptr(cfg.ListenFD), "listener"))
	if err != nil {
		return fmt.Errorf("listener on fd %d: %w", cfg.ListenFD, err)
	}
	f.Ready()
	return forward.Serve(ctx, ln, cfg.Target, log)
}

func runDelayer(ctx context.Context, f component.Flags, log *slog.Logger) error {
	var cfg linkfault.DelayerConfig
	if err := f.Load(&cfg); err != nil {
		return err
	}
	cfg.Log = log
	return linkfault.RunDelayer(ctx, cfg, f.Ready)
}

// runBalancer serves the API's virtual IP inside the fabric namespace.
func runBalancer(ctx context.Context, f component.Flags, log *slog.Logger) error {
	var cfg forward.BalancerConfig
	if err := f.Load(&cfg); err != nil {
		return err
	}
	tlsConfig, err := readyzTLS(cfg)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig, DisableKeepAlives: true}}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	b := &forward.Balancer{Targets: cfg.Targets, StatusFile: cfg.StatusFile, Log: log,
		Check: func(ctx context.Context, target string) error {
			return forward.GetOK(ctx, client, "https://"+target+"/readyz")
		},
		// Alive while it answers and is not shutting down: an API server
		// whose store is slow keeps its connections, one that is going
		// (its shutdown check fails at once), paused or gone has them cut.
		// The check touches no store, so it answers under any load.
		Alive: func(ctx context.Context, target string) error {
			return forward.GetOK(ctx, client, "https://"+target+"/readyz/shutdown")
		}}
	f.Ready()
	return b.Serve(ctx, ln)
}

// readyzTLS is how the balancer asks API servers: with its certificate.
func readyzTLS(cfg forward.BalancerConfig) (*tls.Config, error) {
	ca, err := os.ReadFile(cfg.CACert)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(cfg.ClientCert, cfg.ClientKey)
	if err != nil {
		return nil, fmt.Errorf("load client certificate: %w", err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}, nil
}
