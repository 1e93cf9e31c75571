package kubelet

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	clog "github.com/containerd/log"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kinns/kinns/cni"
	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/controlplane/apiready"
	"github.com/kinns/kinns/kubelet/internal/imagegc"
	"github.com/kinns/kinns/kubelet/internal/node"
	"github.com/kinns/kinns/kubelet/internal/pods"
	"github.com/kinns/kinns/kubelet/logs"
	"github.com/kinns/kinns/kubelet/runtime"
	"github.com/kinns/kinns/kubelet/runtime/containerd"
	"github.com/kinns/kinns/kubelet/server"
)

// Run runs the kubelet of one node until ctx ends: it registers the Node,
// renews its Lease, posts its status, runs the pods bound to it on
// containerd, and serves the kubelet API. Containers keep running when it
// returns; the next Run adopts them.
func Run(ctx context.Context, cfg Config) error {
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		return err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig %s: %w", cfg.Kubeconfig, err)
	}
	rc.UserAgent = "kinns-kubelet/" + Version + " (" + cfg.NodeName + ")"
	// The upstream kubelet's defaults (kubeAPIQPS, kubeAPIBurst); client-go's
	// own 5 and 10 make a burst of pods wait seconds on their status,
	// token and ConfigMap requests.
	rc.QPS, rc.Burst = 50, 100
	// The containerd client logs every failed registry request through its
	// global logger; the kubelet reports pull errors itself.
	clog.SetLevel("error")
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("make API client: %w", err)
	}
	// Heartbeats (the Lease and the Node's status) go through a client of
	// their own, as upstream's kubelet does: no client-side rate limit, so a
	// burst of pod requests never holds a renewal back, and a timeout of
	// the shorter of the lease duration and the status period, so a request
	// lost with an API server is retried before the node looks dead.
	hc := rest.CopyConfig(rc)
	hc.QPS, hc.Burst = -1, 0
	hc.Timeout = min(cfg.LeaseDuration, cfg.StatusUpdateFrequency)
	heartbeat, err := kubernetes.NewForConfig(hc)
	if err != nil {
		return fmt.Errorf("make heartbeat API client: %w", err)
	}
	waitAPI := func(ctx context.Context) error { return apiready.Wait(ctx, client.Discovery().RESTClient(), cfg.Log) }
	return run(ctx, cfg, deps{client: client, heartbeat: heartbeat, waitAPI: waitAPI})
}

// deps are what Run makes before the kubelet: the API client and
// optionally a dialer to reach pods.
type deps struct {
	client kubernetes.Interface
	// heartbeat, if set, renews the Lease and posts the Node's status
	// (default: client).
	heartbeat kubernetes.Interface
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	// waitAPI, if set, returns once the API server is ready: the harness
	// may start the kubelet while it boots (see apiready).
	waitAPI func(ctx context.Context) error
}

// kubelet is the node agent and the pods' manager of one node.
type kubelet struct {
	agent  *node.Agent
	pods   *pods.Manager
	images imagegc.Store
}

// run is Run with the API client given.
func run(ctx context.Context, cfg Config, d deps) error {
	cfg.Default()
	k, closeRuntime, err := assemble(ctx, cfg, d)
	if err != nil {
		return err
	}
	defer closeRuntime()
	if d.waitAPI != nil {
		if err := d.waitAPI(ctx); err != nil {
			return nil // ctx ended
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	if cfg.ServerCertFile != "" {
		g.Go(func() error {
			return server.Run(ctx, server.Config{
				Address: cfg.ServerAddress, CertFile: cfg.ServerCertFile, KeyFile: cfg.ServerKeyFile,
				ClientCAFile: cfg.ClientCAFile, NodeName: cfg.NodeName, Client: d.client, Log: cfg.Log,
			}, k.pods)
		})
	}
	g.Go(func() error { return k.run(ctx) })
	g.Go(func() error { runImageGC(ctx, cfg, d.client, k.images); return nil })
	return g.Wait()
}

// run registers the node, keeps it alive, and runs its pods until ctx
// ends. It leaves every container running when it returns.
func (k *kubelet) run(ctx context.Context) error {
	if err := k.agent.Register(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	var agent sync.WaitGroup
	agent.Go(func() { k.agent.Run(ctx) })
	defer agent.Wait()
	return k.pods.Run(ctx)
}

// assemble makes a kubelet on the real runtime and network, and adopts the
// containers a previous kubelet left. The returned func closes the runtime
// (containers keep running).
func assemble(ctx context.Context, cfg Config, d deps) (*kubelet, func(), error) {
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	k := &kubelet{}
	rt, err := containerd.New(containerd.Config{
		Address: cfg.ContainerdAddress, Namespace: cfg.ContainerdNamespace, RuncRoot: cfg.RuncRoot,
		FIFODir: filepath.Join(cfg.StateDir, "fifo"),
		OpenLog: func(path string) (containerd.LogSink, error) { return logs.Create(path) },
		// Exits are watched only from Recover on, when k.pods is set.
		OnExit:            func(c runtime.Container) { k.pods.ContainerExited(c) },
		Dial:              pullDial(cfg),
		RegistryConfigDir: cfg.RegistryConfigDir,
		Log:               cfg.Log,
	})
	if err != nil {
		return nil, nil, err
	}
	net, err := cni.New(cni.Config{
		NodeNetns: cfg.NodeNetns, Bridge: cfg.Bridge, PodCIDR: netip.MustParsePrefix(cfg.PodCIDR),
		StateDir: filepath.Join(cfg.StateDir, "cni"), Log: cfg.Log,
	})
	if err != nil {
		rt.Close()
		return nil, nil, err
	}
	k.images = rt
	k.agent = node.New(cfg, node.Deps{Client: d.client, Heartbeat: d.heartbeat, Runtime: rt, Network: net})
	k.pods = pods.New(cfg, pods.Deps{Client: d.client, Runtime: rt, Network: net, Dial: d.dial})
	adopted, err := rt.Recover(ctx)
	if err != nil {
		rt.Close()
		return nil, nil, fmt.Errorf("recover containers: %w", err)
	}
	cfg.Log.Info("kubelet starting", "node", cfg.NodeName, "containers", len(adopted))
	return k, func() { rt.Close() }, nil
}

// pullDial opens image pulls' connections in the host's namespace, from
// the descriptor the harness handed down; nil (this namespace) without one.
func pullDial(cfg Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if cfg.HostNetnsFD <= 0 {
		return nil
	}
	return netns.NewDialer(os.NewFile(uintptr(cfg.HostNetnsFD), "host-netns")).DialContext
}
