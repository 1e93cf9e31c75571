package config

import (
	"log/slog"
	"time"
)

// Config is what one node's proxy needs. The harness writes it as JSON for
// `lab component proxy`.
type Config struct {
	// Kubeconfig is the proxy's identity (system:kube-proxy, read-only).
	Kubeconfig string
	// NodeName decides which endpoints are local.
	NodeName string
	// NodeIP is the node's fabric address: NodePorts and health check node
	// ports answer there.
	NodeIP string
	// ClusterCIDR is the pod network; ClusterIP traffic from outside it is
	// masqueraded so that its replies come back through this node.
	ClusterCIDR string
	// MinSyncPeriod is the least time between two syncs: changes that come
	// closer together are applied together.
	MinSyncPeriod time.Duration
	// SyncPeriod is how often the rules are rewritten even when nothing
	// changed, which repairs rules changed by hand.
	SyncPeriod time.Duration
	// HealthzAddress serves /healthz and /metrics, as kube-proxy does on
	// :10256 (upstream keeps metrics on :10249; both are served there too).
	HealthzAddress string
	MetricsAddress string

	Log *slog.Logger `json:"-"`
}

// Profiles of the lab's timing: "fast" programs changes at once and repairs
// drift within seconds; "kubernetes" has kube-proxy's defaults.
const (
	ProfileFast       = "fast"
	ProfileKubernetes = "kubernetes"
)

// TimingFor gives MinSyncPeriod and SyncPeriod of a timing profile.
func TimingFor(profile string) (minSync, sync time.Duration) {
	if profile == ProfileKubernetes {
		return time.Second, 30 * time.Second
	}
	return 20 * time.Millisecond, 5 * time.Second
}
