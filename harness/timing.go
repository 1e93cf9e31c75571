package harness

import (
	"time"

	etcdconfig "github.com/kinns/kinns/controlplane/etcd/config"
)

// Profile is a timing profile made concrete (DESIGN §5).
type Profile struct {
	Name                        string
	EtcdHeartbeat, EtcdElection time.Duration
	NotReadyToleration          time.Duration
	UnreachableToleration       time.Duration
}

// TimingProfile returns the durations of a profile name.
func TimingProfile(name string) Profile {
	p := Profile{Name: name}
	p.EtcdHeartbeat, p.EtcdElection = etcdconfig.Timing(name)
	switch name {
	case TimingKubernetes:
		p.NotReadyToleration, p.UnreachableToleration = 300*time.Second, 300*time.Second
	default:
		// A dead node's pods move within seconds, not minutes.
		p.NotReadyToleration, p.UnreachableToleration = 10*time.Second, 10*time.Second
	}
	return p
}
