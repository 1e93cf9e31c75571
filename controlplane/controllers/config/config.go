// Package config is the controller manager's configuration, the node
// timing and the leader-election timing of each profile: plain data, so
// that the harness writes it without linking the controllers. The
// scheduler's config embeds LeaderElection as well.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"
)

// Timing profile names (DESIGN §5).
const (
	ProfileFast       = "fast"
	ProfileKubernetes = "kubernetes"
)

// NodeTiming is how quickly node failures are judged.
type NodeTiming struct {
	// NodeMonitorPeriod is how often node health is checked and due
	// evictions are made.
	NodeMonitorPeriod time.Duration
	// NodeMonitorGracePeriod is how long a node may go without a heartbeat
	// before it is marked Unknown and tainted unreachable.
	NodeMonitorGracePeriod time.Duration
	// NodeStartupGracePeriod replaces the grace period for a node that never
	// posted a Ready condition.
	NodeStartupGracePeriod time.Duration
}

// Timing returns the node timing of a profile: "kubernetes" is upstream
// kube-controller-manager 1.37's defaults (5 s, 50 s, 60 s); anything else is
// "fast" (1 s, 5 s, 20 s): kubelets renew their Lease every second through a
// client no rate limit holds back, so a healthy node is marked only when its
// kubelet is stalled for five seconds (the longest gap between renewals
// measured through the parallel conformance tests on a 2-core host, at a
// load average of 24, was 1.4 s), and a dead node's pods move about 5 s +
// their tolerationSeconds (2 s in the fast profile) after its last
// heartbeat.
func Timing(profile string) NodeTiming {
	if profile == ProfileKubernetes {
		return NodeTiming{NodeMonitorPeriod: 5 * time.Second, NodeMonitorGracePeriod: 50 * time.Second, NodeStartupGracePeriod: 60 * time.Second}
	}
	return NodeTiming{NodeMonitorPeriod: time.Second, NodeMonitorGracePeriod: 5 * time.Second, NodeStartupGracePeriod: 20 * time.Second}
}

// Config is one controller manager of a lab.
type Config struct {
	// Kubeconfig is the path of a kubeconfig with the identity
	// system:kube-controller-manager.
	Kubeconfig string
	NodeTiming
	// ClusterCIDR is the pod range nodes get blocks of (default 10.244.0.0/16).
	ClusterCIDR string
	// NodeCIDRMaskSize is the size of each node's block (default 24).
	NodeCIDRMaskSize int
	// DNSServers are the cluster DNS instances' addresses, whose readiness
	// the dns-endpoints controller turns into kube-dns's endpoints.
	DNSServers []string
	// LocalPathRoot holds a folder per node, <LocalPathRoot>/<node>, in
	// which the local-path provisioner makes the node's volumes (under
	// local-path/); the nodes share the host's filesystem, so it is a host
	// path. Empty leaves the provisioner out.
	LocalPathRoot string
	// Controllers lists the controllers to run (see Names); empty means all.
	Controllers []string
	// SigningCertFile and SigningKeyFile are the CA the csrsigning
	// controller signs approved CertificateSigningRequests with (the lab
	// CA, as kube-controller-manager's --cluster-signing-cert-file and
	// --cluster-signing-key-file); unset, nothing is signed.
	SigningCertFile, SigningKeyFile string
	// Workers is the number of workers of each of kinns' own controllers
	// (default 3); upstream's run with kube-controller-manager's default
	// counts.
	Workers int
	// QPS and Burst limit each API client (default 100 and 200: a lab's
	// controllers should never wait on their own rate limiter).
	QPS   float32
	Burst int
	// Resync is how often informers replay their whole cache to the
	// controllers, a safety net for a missed event (default 10 min).
	Resync time.Duration
	// LeaderElection makes the manager act only while it holds the Lease
	// kube-system/kube-controller-manager (off by default).
	LeaderElection
	Log *slog.Logger `json:"-"`
}

// Defaults fills in what is unset.
func (c *Config) Defaults() {
	t := Timing(ProfileKubernetes)
	if c.NodeMonitorPeriod <= 0 {
		c.NodeMonitorPeriod = t.NodeMonitorPeriod
	}
	if c.NodeMonitorGracePeriod <= 0 {
		c.NodeMonitorGracePeriod = t.NodeMonitorGracePeriod
	}
	if c.NodeStartupGracePeriod <= 0 {
		c.NodeStartupGracePeriod = t.NodeStartupGracePeriod
	}
	if c.ClusterCIDR == "" {
		c.ClusterCIDR = "10.244.0.0/16"
	}
	if c.NodeCIDRMaskSize == 0 {
		c.NodeCIDRMaskSize = 24
	}
	if c.Workers <= 0 {
		c.Workers = 3
	}
	if c.QPS <= 0 {
		c.QPS = 100
	}
	if c.Burst <= 0 {
		c.Burst = 200
	}
	if c.Resync <= 0 {
		c.Resync = 10 * time.Minute
	}
	c.LeaderElection = c.LeaderElection.WithDefaults()
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Validate says what is wrong with the config; known are the controller
// names the manager can run.
func (c Config) Validate(known []string) error {
	var errs []error
	if c.Kubeconfig == "" {
		errs = append(errs, errors.New("no kubeconfig"))
	}
	if p, err := netip.ParsePrefix(c.ClusterCIDR); err != nil || !p.Addr().Is4() || c.NodeCIDRMaskSize < p.Bits() || c.NodeCIDRMaskSize > 30 {
		errs = append(errs, fmt.Errorf("cluster CIDR %q with node mask /%d: need an IPv4 prefix no longer than the mask", c.ClusterCIDR, c.NodeCIDRMaskSize))
	}
	if c.NodeMonitorPeriod >= c.NodeMonitorGracePeriod {
		errs = append(errs, fmt.Errorf("node monitor period %s must be shorter than the grace period %s", c.NodeMonitorPeriod, c.NodeMonitorGracePeriod))
	}
	if (c.SigningCertFile == "") != (c.SigningKeyFile == "") {
		errs = append(errs, fmt.Errorf("signing CA: certificate %q and key %q must be given together", c.SigningCertFile, c.SigningKeyFile))
	}
	if err := c.LeaderElection.Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, n := range c.Controllers {
		if !slices.Contains(known, n) {
			errs = append(errs, fmt.Errorf("unknown controller %q (known: %v)", n, known))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid controller manager config: %w", err)
	}
	return nil
}

// Enabled says whether the manager runs the named controller.
func (c Config) Enabled(name string) bool {
	return len(c.Controllers) == 0 || slices.Contains(c.Controllers, name)
}
