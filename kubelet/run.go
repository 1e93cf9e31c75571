package kubelet

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"

	clog "github.com/containerd/log"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kinns/kinns/cni"
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
	return run(ctx, cfg, deps{client: client})
}

// run is Run with the API client (and optionally a dialer) given.
func run(ctx context.Context, cfg Config, d deps) error {
	k, closeRuntime, err := assemble(ctx, cfg, d)
	if err != nil {
		return err
	}
	defer closeRuntime()
	g, ctx := errgroup.WithContext(ctx)
	if cfg.ServerCertFile != "" {
		g.Go(func() error {
			return server.Run(ctx, server.Config{
				Address: k.cfg.ServerAddress, CertFile: cfg.ServerCertFile, KeyFile: cfg.ServerKeyFile,
				ClientCAFile: cfg.ClientCAFile, Log: k.log,
			}, k)
		})
	}
	g.Go(func() error { return k.run(ctx) })
	return g.Wait()
}

// assemble makes a kubelet on the real runtime and network, and adopts the
// containers a previous kubelet left. The returned func closes the runtime
// (containers keep running).
func assemble(ctx context.Context, cfg Config, d deps) (*Kubelet, func(), error) {
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	k := newKubelet(cfg, d)
	rt, err := containerd.New(containerd.Config{
		Address: cfg.ContainerdAddress, Namespace: cfg.ContainerdNamespace, RuncRoot: cfg.RuncRoot,
		FIFODir: filepath.Join(cfg.StateDir, "fifo"),
		OpenLog: func(path string) (containerd.LogSink, error) { return logs.Create(path) },
		OnExit:  k.containerExited,
		Log:     cfg.Log,
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
	k.rt, k.net = rt, net
	adopted, err := rt.Recover(ctx)
	if err != nil {
		rt.Close()
		return nil, nil, fmt.Errorf("recover containers: %w", err)
	}
	cfg.Log.Info("kubelet starting", "node", cfg.NodeName, "containers", len(adopted))
	return k, func() { rt.Close() }, nil
}

// containerExited has the pod of an ended run synced.
func (k *Kubelet) containerExited(c runtime.Container) {
	k.mu.Lock()
	w := k.workers[types.UID(c.Pod.UID)]
	k.mu.Unlock()
	if w != nil {
		w.kickNow()
	}
}
