package harness

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/kinns/kinns/harness/proc"
	"github.com/kinns/kinns/harness/state"
	"github.com/kinns/kinns/harness/topology"
	kubeletconfig "github.com/kinns/kinns/kubelet/config"
)

// Timing profiles (DESIGN §5).
const (
	TimingFast       = "fast"
	TimingKubernetes = "kubernetes"
)

// DefaultName is the lab name when none is given.
const DefaultName = "kinns"

// Config says what lab to bring up.
type Config struct {
	Name  string
	Nodes int
	// APIServers is how many control-plane hosts run an API server (and a
	// scheduler and a controller manager, one of each leading): 3 puts
	// them behind the virtual IP 10.89.0.10, 1 keeps one on cp-1, for the
	// fastest labs. Default 3.
	APIServers int
	Timing     string
	// ContainerdAddress is the socket of an existing containerd to use. Empty: the
	// lab starts, or joins, the containerd that kinns shares between labs.
	ContainerdAddress string
	// StateRoot holds every lab's state (default state.DefaultRoot).
	StateRoot string
	// Owner is the process that keeps the lab (default: the calling process). It
	// holds the shared containerd for the lab.
	Owner proc.ID
	// Reserved: the state folder was already made by Reserve (the `lab up` parent
	// made it, this process carries on).
	Reserved bool
	// LabBinary is the `lab` executable whose `component` subcommand runs each
	// component (default: $KINNS_LAB_BINARY, else this executable).
	LabBinary string
	// Retain keeps what a failed bring-up made (processes, namespaces,
	// logs) for inspection, as kind's --retain does; `lab down` removes it.
	Retain bool
	// FailureLogs, if set, is a folder where a failed bring-up that removes
	// what it made first copies the lab's logs (FailureLogs/<name>/), so
	// that a test run keeps the why.
	FailureLogs string
	// DNSUpstream are resolvers (IP:port, reachable from the control-plane
	// hosts) that the cluster DNS forwards names outside the cluster to;
	// with none, those names are refused.
	DNSUpstream []string
	// LoadBalancerPool is the range LoadBalancer Services get addresses
	// from, "FIRST-LAST" on the fabric (default 10.89.0.200-10.89.0.250).
	LoadBalancerPool string
	// RegistryMirrors are pull-through mirrors, "REGISTRY=URL" (REGISTRY
	// as images name it: docker.io, ghcr.io, 127.0.0.1:5000), tried in
	// order before the registry itself; InsecureRegistries are
	// "HOST[:PORT]" pulled from over plain HTTP or unverified TLS. Both are
	// written as containerd hosts.toml files for the kubelets.
	RegistryMirrors, InsecureRegistries []string
	// NodeCPU and NodeMemory are each node's capacity (default 2 and 4Gi).
	NodeCPU, NodeMemory string
	// NetworkOnly brings up the topology and containerd alone, without a control
	// plane: for benchmarks and specs of the network.
	NetworkOnly bool
	// ImageGCHighPercent and ImageGCLowPercent are the kubelets' image
	// garbage collection thresholds, in percent of the disk that holds
	// containerd's images (default 85 and 80, as upstream; a high of 100
	// turns it off). Image GC runs only on the containerd kinns starts,
	// whose root the harness knows.
	ImageGCHighPercent, ImageGCLowPercent *int32
	// TestApp is the testapp binary the test image is built from (default: next
	// to LabBinary, or $KINNS_TESTAPP).
	TestApp string
	Log     *slog.Logger
	// Progress, if set, is told of each step as it starts.
	Progress func(step string)
}

func (c *Config) defaults() error {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.APIServers == 0 {
		c.APIServers = topology.ControlPlaneHosts
	}
	if c.APIServers != 1 && c.APIServers != topology.ControlPlaneHosts {
		return fmt.Errorf("invalid number of API servers %d: use 1 (one on cp-1) or %d (one on each control-plane host, behind %s)",
			c.APIServers, topology.ControlPlaneHosts, topology.APIVIP)
	}
	if c.Timing == "" {
		c.Timing = TimingFast
	}
	if c.StateRoot == "" {
		c.StateRoot = StateRoot()
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Progress == nil {
		c.Progress = func(string) {}
	}
	if c.Owner.PID == 0 {
		id, err := proc.Self()
		if err != nil {
			return err
		}
		c.Owner = id
	}
	if c.LoadBalancerPool != "" {
		if err := CheckLoadBalancerPool(c.LoadBalancerPool); err != nil {
			return err
		}
	}
	if err := (kubeletconfig.ImageGC{HighThresholdPercent: c.ImageGCHighPercent, LowThresholdPercent: c.ImageGCLowPercent}).Validate(); err != nil {
		return err
	}
	if _, err := RegistryHosts(c.RegistryMirrors, c.InsecureRegistries); err != nil {
		return err
	}
	if c.Timing != TimingFast && c.Timing != TimingKubernetes {
		return fmt.Errorf("invalid timing %q: use %q or %q", c.Timing, TimingFast, TimingKubernetes)
	}
	return nil
}

// StateRoot is where lab state lives: $KINNS_STATE_ROOT, or state.DefaultRoot.
func StateRoot() string {
	if r := os.Getenv("KINNS_STATE_ROOT"); r != "" {
		return r
	}
	return state.DefaultRoot
}

func (c Config) plan() (topology.Plan, error) { return topology.New(c.Name, c.Nodes) }
