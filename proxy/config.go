package proxy

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/kinns/kinns/proxy/config"
)

// Config is what one node's proxy needs (see package config).
type Config = config.Config

// Timing profiles (see package config).
const (
	ProfileFast       = config.ProfileFast
	ProfileKubernetes = config.ProfileKubernetes
)

// TimingFor gives MinSyncPeriod and SyncPeriod of a timing profile.
func TimingFor(profile string) (minSync, sync time.Duration) { return config.TimingFor(profile) }

// parsed is Config with its addresses parsed and defaults filled in.
type parsed struct {
	Config
	nodeIP      netip.Addr
	clusterCIDR netip.Prefix
}

func parse(c Config) (parsed, error) {
	p := parsed{Config: c}
	var err error
	if c.NodeName == "" {
		return p, fmt.Errorf("proxy config: no node name")
	}
	if p.nodeIP, err = netip.ParseAddr(c.NodeIP); err != nil {
		return p, fmt.Errorf("proxy config: node IP: %w", err)
	}
	if c.ClusterCIDR != "" {
		if p.clusterCIDR, err = netip.ParsePrefix(c.ClusterCIDR); err != nil {
			return p, fmt.Errorf("proxy config: cluster CIDR: %w", err)
		}
	}
	minSync, sync := TimingFor(ProfileFast)
	if p.MinSyncPeriod <= 0 {
		p.MinSyncPeriod = minSync
	}
	if p.SyncPeriod <= 0 {
		p.SyncPeriod = sync
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	return p, nil
}
