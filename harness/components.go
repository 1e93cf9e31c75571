package harness

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	controllersconfig "github.com/kinns/kinns/controlplane/controllers/config"
	"github.com/kinns/kinns/controlplane/pki"
	schedulerconfig "github.com/kinns/kinns/controlplane/scheduler/config"
)

// Component names of the control plane's controllers.
const (
	ComponentScheduler   = "scheduler"
	ComponentControllers = "controller-manager"
)

// inClusterURL is how components inside the lab reach the API server.
func (l *Lab) inClusterURL() string {
	cp1, _ := l.plan.Host("cp-1")
	return "https://" + net.JoinHostPort(cp1.IP.String(), strconv.Itoa(APIPort))
}

// kubeconfigFor writes the kubeconfig of identity id, pointing inside the lab.
func (l *Lab) kubeconfigFor(id pki.Identity) (string, error) {
	path := filepath.Join(l.store.Path("config"), string(id)+".kubeconfig")
	return path, pki.WriteKubeconfig(path, l.pki, id, l.inClusterURL())
}

func (l *Lab) startScheduler(ctx context.Context) error {
	kc, err := l.kubeconfigFor(pki.Scheduler)
	if err != nil {
		return err
	}
	c, err := l.configured(ComponentScheduler, "cp-1", "scheduler", schedulerconfig.Config{Kubeconfig: kc, QPS: 200, Burst: 400})
	if err != nil {
		return err
	}
	return l.start(ctx, c, 30*time.Second)
}

// startControllers starts the scheduler and the controller manager side by side.
func (l *Lab) startControllers(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return l.startScheduler(gctx) })
	g.Go(func() error { return l.startControllerManager(gctx) })
	return g.Wait()
}

func (l *Lab) startControllerManager(ctx context.Context) error {
	kc, err := l.kubeconfigFor(pki.ControllerManager)
	if err != nil {
		return err
	}
	cfg := controllersconfig.Config{Kubeconfig: kc, NodeTiming: controllersconfig.Timing(l.cfg.Timing), DNSServers: l.DNSServers()}
	c, err := l.configured(ComponentControllers, "cp-1", "controllers", cfg)
	if err != nil {
		return err
	}
	return l.start(ctx, c, 30*time.Second)
}
