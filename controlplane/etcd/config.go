package etcd

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"

	"github.com/kinns/kinns/controlplane/etcd/config"
)

// Config describes one member; it lives in package config, which a harness
// can import to write it without linking etcd.
type Config = config.Config

// Peer is one member of the initial cluster.
type Peer = config.Peer

// TLS names the files of a member's client or peer side.
type TLS = config.TLS

// Client is how a client reaches a cluster: endpoints and client certificate.
type Client = config.Client

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

// tlsInfo is etcd's form of t: with files, clients (or peers) must present a
// certificate signed by t's CA.
func tlsInfo(t TLS) transport.TLSInfo {
	if t.IsZero() {
		return transport.TLSInfo{}
	}
	return transport.TLSInfo{CertFile: t.CertFile, KeyFile: t.KeyFile, TrustedCAFile: t.TrustedCAFile, ClientCertAuth: true}
}

// clientTLS is the TLS configuration of a client of c: nil for plain http.
func clientTLS(c Client) (*tls.Config, error) {
	if c.CAFile == "" && c.CertFile == "" && c.KeyFile == "" {
		return nil, nil
	}
	cfg, err := transport.TLSInfo{CertFile: c.CertFile, KeyFile: c.KeyFile, TrustedCAFile: c.CAFile}.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("etcd client certificate %s: %w", c.CertFile, err)
	}
	return cfg, nil
}

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
