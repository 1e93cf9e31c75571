package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kinns/kinns/controlplane/apiserver"
	"github.com/kinns/kinns/controlplane/cloud"
	cloudconfig "github.com/kinns/kinns/controlplane/cloud/config"
	"github.com/kinns/kinns/controlplane/controllers"
	"github.com/kinns/kinns/controlplane/dns"
	"github.com/kinns/kinns/controlplane/etcd"
	"github.com/kinns/kinns/controlplane/forward"
	"github.com/kinns/kinns/controlplane/scheduler"
	"github.com/kinns/kinns/harness"
	"github.com/kinns/kinns/harness/linkfault"
	"github.com/kinns/kinns/kubelet"
	"github.com/kinns/kinns/proxy"
)

// componentFlags are what every `lab component` takes from the harness.
type componentFlags struct {
	config  string
	readyFD int
}

// runner runs one kind of component until ctx ends.
type runner func(ctx context.Context, f componentFlags, log *slog.Logger) error

// runners has the code of each kind of the harness's component table
// (harness.ComponentKinds); a kind without one is a build-time mistake that
// TestEveryComponentKindRuns catches.
var runners = map[string]runner{
	"etcd":        runEtcd,
	"forward":     runForward,
	"apilb":       runBalancer,
	"apiserver":   runAPIServer,
	"scheduler":   runScheduler,
	"controllers": runControllers,
	"kubelet":     runKubelet,
	"proxy":       runProxy,
	"dns":         runDNS,
	"cloud":       runCloud,
	"delayer":     runDelayer,
}

// newComponentCmd is what the harness runs, inside a lab host's namespace, for
// each component process: one subcommand per kind of the component table.
// It is not meant for people.
func newComponentCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "component", Hidden: true}
	for _, kind := range harness.ComponentKinds() {
		if run, ok := runners[kind]; ok {
			cmd.AddCommand(componentCmd(kind, run))
		}
	}
	return cmd
}

func componentCmd(kind string, run runner) *cobra.Command {
	f := &componentFlags{}
	cmd := &cobra.Command{
		Use:  kind,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			defer profileStart(kind)()
			return run(ctx, *f, componentLog(kind))
		},
	}
	cmd.Flags().StringVar(&f.config, "config", "", "the component's config file (JSON)")
	cmd.Flags().IntVar(&f.readyFD, "ready-fd", 0, "say ready on this file descriptor")
	return cmd
}

func componentLog(kind string) *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", kind)
}

func (f componentFlags) load(v any) error {
	b, err := os.ReadFile(f.config)
	if err != nil {
		return fmt.Errorf("read component config: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parse %s: %w", f.config, err)
	}
	return nil
}

// ready tells the harness the component serves.
func (f componentFlags) ready() {
	if f.readyFD <= 0 {
		return
	}
	w := os.NewFile(uintptr(f.readyFD), "ready")
	fmt.Fprintln(w, "ready")
	w.Close()
}

func runEtcd(ctx context.Context, f componentFlags, log *slog.Logger) error {
	var cfg etcd.Config
	if err := f.load(&cfg); err != nil {
		return err
	}
	cfg.Log, cfg.EtcdLog = log, os.Stderr
	m, err := etcd.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer m.Close()
	f.ready()
	return m.Wait(ctx)
}

func runAPIServer(ctx context.Context, f componentFlags, log *slog.Logger) error {
	var cfg apiserver.Config
	if err := f.load(&cfg); err != nil {
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

func runScheduler(ctx context.Context, f componentFlags, log *slog.Logger) error {
	var cfg scheduler.Config
	if err := f.load(&cfg); err != nil {
		return err
	}
	cfg.Log = log
	f.ready() // it serves from here on; its caches fill within the first second
	return scheduler.Run(ctx, cfg)
}

func runControllers(ctx context.Context, f componentFlags, log *slog.Logger) error {
	var cfg controllers.Config
	if err := f.load(&cfg); err != nil {
		return err
	}
	cfg.Log = log
	f.ready()
	return controllers.Run(ctx, cfg)
}

func runKubelet(ctx context.Context, f componentFlags, log *slog.Logger) error {
	var cfg kubelet.Config
	if err := f.load(&cfg); err != nil {
		return err
	}
	cfg.Log = log
	f.ready()
	return kubelet.Run(ctx, cfg)
}

func runProxy(ctx context.Context, f componentFlags, log *slog.Logger) error {
	var cfg proxy.Config
	if err := f.load(&cfg); err != nil {
		return err
	}
	cfg.Log = log
	return proxy.Run(ctx, cfg, f.ready) // ready once its first rules are in place
}

func runDNS(ctx context.Context, f componentFlags, log *slog.Logger) error {
	var cfg dns.Config
	if err := f.load(&cfg); err != nil {
		return err
	}
	cfg.Log = log
	return dns.Run(ctx, cfg, f.ready)
}

func runCloud(ctx context.Context, f componentFlags, log *slog.Logger) error {
	var cfg cloudconfig.Config
	if err := f.load(&cfg); err != nil {
		return err
	}
	cfg.Log = log
	f.ready() // it serves once it holds the Lease; a standby waits for it
	return cloud.Run(ctx, cfg)
}

func runForward(ctx context.Context, f componentFlags, log *slog.Logger) error {
	var cfg forward.Config
	if err := f.load(&cfg); err != nil {
		return err
	}
	ln, err := net.FileListener(os.NewFile(uintptr(cfg.ListenFD), "listener"))
	if err != nil {
		return fmt.Errorf("listener on fd %d: %w", cfg.ListenFD, err)
	}
	f.ready()
	return forward.Serve(ctx, ln, cfg.Target, log)
}

func runDelayer(ctx context.Context, f componentFlags, log *slog.Logger) error {
	var cfg linkfault.DelayerConfig
	if err := f.load(&cfg); err != nil {
		return err
	}
	cfg.Log = log
	return linkfault.RunDelayer(ctx, cfg, f.ready)
}

// runBalancer serves the API's virtual IP inside the fabric namespace.
func runBalancer(ctx context.Context, f componentFlags, log *slog.Logger) error {
	var cfg forward.BalancerConfig
	if err := f.load(&cfg); err != nil {
		return err
	}
	client, err := readyzClient(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	b := &forward.Balancer{Targets: cfg.Targets, StatusFile: cfg.StatusFile, Log: log,
		Check: func(ctx context.Context, target string) error {
			return forward.GetOK(ctx, client, "https://"+target+"/readyz")
		}}
	f.ready()
	return b.Serve(ctx, ln)
}

// readyzClient asks API servers with the balancer's certificate.
func readyzClient(cfg forward.BalancerConfig) (*http.Client, error) {
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
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}, DisableKeepAlives: true}
	return &http.Client{Transport: tr}, nil
}
