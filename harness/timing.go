package harness

import (
	"time"

	controllersconfig "github.com/kinns/kinns/controlplane/controllers/config"
	etcdconfig "github.com/kinns/kinns/controlplane/etcd/config"
	kubeletconfig "github.com/kinns/kinns/kubelet/config"
)

// Profile is a timing profile made concrete (DESIGN §5).
type Profile struct {
	Name                        string
	EtcdHeartbeat, EtcdElection time.Duration
	NotReadyToleration          time.Duration
	UnreachableToleration       time.Duration
	// LeaseRenew is how often a kubelet renews its node's Lease, and
	// NodeGrace how long the node controller waits without a renewal
	// before it marks the node; with UnreachableToleration they say how
	// long a dead node's pods wait (the kubelet's and the controllers'
	// configs hold them, read here so that nobody adds them up twice).
	LeaseRenew, NodeGrace time.Duration
	// ExtendTokenExpiration is the API server's
	// --service-account-extend-token-expiration: when true (upstream's
	// default), a token a kubelet asks for with the default 3607 s lives a
	// year, for clients that never reread it; false makes it expire when
	// asked, so a missed refresh shows.
	ExtendTokenExpiration bool
	// TokenMaxAge is the kubelet's "max token age before refresh": a
	// projected service account token older than this is replaced in the
	// running pod, whatever its lifetime (upstream: 24h). A token is also
	// replaced at 80 % of its lifetime; the API refuses lifetimes under 10
	// minutes, so a short TokenMaxAge is how a lab shows rotation at once.
	TokenMaxAge time.Duration
}

// Profile is the lab's timing profile: what its components were given, for
// a spec or a tool that waits on them.
func (l *Lab) Profile() Profile { return TimingProfile(l.cfg.Timing) }

// TimingProfile returns the durations of a profile name.
func TimingProfile(name string) Profile {
	p := Profile{Name: name}
	p.EtcdHeartbeat, p.EtcdElection = etcdconfig.Timing(name)
	p.LeaseRenew = kubeletconfig.TimingsFor(name).LeaseRenewInterval
	p.NodeGrace = controllersconfig.Timing(name).NodeMonitorGracePeriod
	switch name {
	case TimingKubernetes:
		p.NotReadyToleration, p.UnreachableToleration = 300*time.Second, 300*time.Second
		p.ExtendTokenExpiration, p.TokenMaxAge = true, 24*time.Hour
	default:
		// A dead node's pods move within seconds, not minutes: 2 s after
		// the node controller's 5 s grace (controllers' fast Timing).
		p.NotReadyToleration, p.UnreachableToleration = 2*time.Second, 2*time.Second
		// Tokens are rotated every 20 s and live as long as asked (an hour):
		// a pod that keeps working shows that rotation works.
		p.ExtendTokenExpiration, p.TokenMaxAge = false, 20*time.Second
	}
	return p
}
