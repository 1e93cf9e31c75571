package harness

import (
	"path/filepath"

	controllersconfig "github.com/kinns/kinns/controlplane/controllers/config"
	"github.com/kinns/kinns/controlplane/pki"
	schedulerconfig "github.com/kinns/kinns/controlplane/scheduler/config"
	"github.com/kinns/kinns/harness/topology"
)

// Component names of the control plane's controllers.
const (
	ComponentScheduler   = "scheduler"
	ComponentControllers = "controller-manager"
)

// SchedulerQPS and SchedulerBurst bound our scheduler's requests to the API
// server; the bench gives upstream's kube-scheduler the same, to compare them.
const (
	SchedulerQPS   = 200
	SchedulerBurst = 400
)

// InClusterURL is how components inside the lab reach the API server: the
// address of cp-1's, or the VIP in front of three.
func (l *Lab) InClusterURL() string { return "https://" + l.apiAddress() }

// kubeconfigFor writes the kubeconfig of identity id, pointing inside the lab.
func (l *Lab) kubeconfigFor(id pki.Identity) (string, error) {
	path := filepath.Join(l.store.Path("config"), string(id)+".kubeconfig")
	return path, pki.WriteKubeconfig(path, l.pki, id, l.InClusterURL())
}

func (l *Lab) schedulerConfig(h topology.Host, kubeconfig string) (any, error) {
	return schedulerconfig.Config{Kubeconfig: kubeconfig, QPS: SchedulerQPS, Burst: SchedulerBurst, LeaderElection: l.leaderElection(h)}, nil
}

func (l *Lab) controllersConfig(h topology.Host, kubeconfig string) (any, error) {
	p := l.PKIPaths() // csrsigning signs with the lab CA
	return controllersconfig.Config{Kubeconfig: kubeconfig, NodeTiming: controllersconfig.Timing(l.cfg.Timing), DNSServers: l.DNSServers(),
		LocalPathRoot: l.localPathRoot(), SigningCertFile: p.CACert(), SigningKeyFile: p.CAKey(),
		LeaderElection: l.leaderElection(h)}, nil
}
