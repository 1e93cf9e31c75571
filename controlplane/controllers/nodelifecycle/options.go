package nodelifecycle

import (
	"time"
)

// Upstream kube-controller-manager 1.37 defaults.
const (
	DefaultMonitorPeriod      = 5 * time.Second
	DefaultGracePeriod        = 50 * time.Second
	DefaultStartupGracePeriod = 60 * time.Second
	// DefaultUnhealthyFraction is upstream's unhealthy-zone threshold: with
	// more than two nodes unhealthy and at least this fraction of all nodes,
	// the cluster is in partial disruption.
	DefaultUnhealthyFraction = 0.55
)

// Options tune a Controller.
type Options struct {
	// MonitorPeriod is how often node health is judged and evictions are due.
	MonitorPeriod time.Duration
	// GracePeriod is how long a node may go without a heartbeat (Lease renewal
	// or status update) before it is Unknown.
	GracePeriod time.Duration
	// StartupGracePeriod replaces GracePeriod for a node that never posted a
	// Ready condition.
	StartupGracePeriod time.Duration
	// BlindAfter: when no node at all has shown a heartbeat for this long, the
	// controller's own view is presumed stale (API or etcd outage, watch cut)
	// and it judges no node. Default GracePeriod/2; kubelets should renew
	// their Lease at least twice as often.
	BlindAfter time.Duration
	// UnhealthyFraction sets partial disruption (default 0.55).
	UnhealthyFraction float64
}

func (o *Options) defaults() {
	if o.MonitorPeriod <= 0 {
		o.MonitorPeriod = DefaultMonitorPeriod
	}
	if o.GracePeriod <= 0 {
		o.GracePeriod = DefaultGracePeriod
	}
	if o.StartupGracePeriod <= 0 {
		o.StartupGracePeriod = DefaultStartupGracePeriod
	}
	if o.BlindAfter <= 0 {
		o.BlindAfter = o.GracePeriod / 2
	}
	if o.UnhealthyFraction <= 0 {
		o.UnhealthyFraction = DefaultUnhealthyFraction
	}
}
