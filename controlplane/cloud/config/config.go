// Package config is the cloud controller manager's configuration: plain
// data, so that the harness writes it without linking the controller.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	controllersconfig "github.com/kinns/kinns/controlplane/controllers/config"
)

// DefaultPool is the fabric's range of LoadBalancer addresses (DESIGN §2).
const DefaultPool = "10.89.0.200-10.89.0.250"

// Config is one cloud controller manager of a lab.
type Config struct {
	// Kubeconfig has the identity system:cloud-controller-manager.
	Kubeconfig string
	// Lab names the lab; it is the cluster name and the host part of
	// every node's providerID (kinns://<lab>/<node>).
	Lab string
	// Pool is the range LoadBalancer addresses come from, "FIRST-LAST"
	// (default DefaultPool).
	Pool string
	// FabricNetns is the path of the fabric's network namespace, where
	// each address is routed to its nodes.
	FabricNetns string
	// Bridge is the fabric's bridge, whose hosts ask for the addresses;
	// RouterLink is the fabric's router port, which answers for them and
	// forwards to the nodes over Bridge.
	Bridge, RouterLink string
	// HealthPort is the proxies' /healthz port (10256), checked for
	// Services with externalTrafficPolicy Cluster.
	HealthPort int
	// CheckInterval is how often each node is checked (default 1 s).
	CheckInterval time.Duration
	// Workers is the service controller's number of workers (default 2).
	Workers int
	// LeaderElection makes the manager act only while it holds the Lease
	// kube-system/cloud-controller-manager.
	controllersconfig.LeaderElection
	Log *slog.Logger `json:"-"`
}

// Defaults fills in what is unset.
func (c *Config) Defaults() {
	if c.Pool == "" {
		c.Pool = DefaultPool
	}
	if c.HealthPort == 0 {
		c.HealthPort = 10256
	}
	if c.CheckInterval <= 0 {
		c.CheckInterval = time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	c.LeaderElection = c.LeaderElection.WithDefaults()
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Validate says what is wrong with the config.
func (c Config) Validate() error {
	var errs []error
	if c.Kubeconfig == "" {
		errs = append(errs, errors.New("no kubeconfig"))
	}
	if c.Lab == "" {
		errs = append(errs, errors.New("no lab name"))
	}
	if _, _, err := ParseRange(c.Pool); err != nil {
		errs = append(errs, err)
	}
	if c.FabricNetns == "" || c.Bridge == "" || c.RouterLink == "" {
		errs = append(errs, errors.New("no fabric namespace, bridge or router link"))
	}
	if err := c.LeaderElection.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid cloud controller manager config: %w", err)
	}
	return nil
}

// ParseRange reads "FIRST-LAST" (IPv4, FIRST <= LAST); a single address
// is a range of one.
func ParseRange(s string) (first, last netip.Addr, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		b = a
	}
	first, err1 := netip.ParseAddr(strings.TrimSpace(a))
	last, err2 := netip.ParseAddr(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || !first.Is4() || !last.Is4() || last.Less(first) {
		return netip.Addr{}, netip.Addr{}, fmt.Errorf("invalid address pool %q: want FIRST-LAST, two IPv4 addresses in order", s)
	}
	return first, last, nil
}
