package etcd

import (
	"net/url"
	"time"

	"github.com/kinns/kinns/controlplane/etcd/config"
)

// Config describes one member; it lives in package config, which a harness
// can import to write it without linking etcd.
type Config = config.Config

// Peer is one member of the initial cluster.
type Peer = config.Peer

// Cluster states, as etcd spells them.
const (
	StateNew      = config.StateNew
	StateExisting = config.StateExisting
)

// Defaults applied by Start to zero fields of Config.
const (
	DefaultClusterToken        = config.DefaultClusterToken
	DefaultReadyTimeout        = config.DefaultReadyTimeout
	DefaultCompactionRetention = config.DefaultCompactionRetention
	DefaultEtcdLogLevel        = config.DefaultEtcdLogLevel
)

// Timing profiles, as `lab up --timing` names them.
const (
	ProfileFast       = config.ProfileFast
	ProfileKubernetes = config.ProfileKubernetes
)

// Timing returns the raft heartbeat interval and election timeout of a
// timing profile (see config.Timing).
func Timing(profile string) (heartbeat, election time.Duration) { return config.Timing(profile) }

func parseURLs(ss []string) ([]url.URL, error) {
	out := make([]url.URL, 0, len(ss))
	for _, s := range ss {
		u, err := config.ParseURL(s)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, nil
}
