package cni

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/kinns/kinns/cni/netns"
)

// PodInterface is the name of the pod's end of its veth.
const PodInterface = "eth0"

// DefaultBridge is the node bridge pods are plugged into, unless Config
// names another.
const DefaultBridge = "cni0"

// Config describes one node's pod network.
type Config struct {
	// NodeNetns is the node's network namespace: a name under /run/netns
	// ("kinns-node-1") or an absolute path.
	NodeNetns string
	// Bridge is the node's pod bridge, already made with the gateway address;
	// default DefaultBridge.
	Bridge string
	// PodCIDR is the node's pod range (10.244.N.0/24); pods get its mask.
	PodCIDR netip.Prefix
	// Gateway is the bridge's address, the pods' default route; default the
	// first host address of PodCIDR.
	Gateway netip.Addr
	// StateDir holds the address allocations (see package ipam).
	StateDir string
	// MTU of both veth ends; 0 means the bridge's MTU.
	MTU int
	// Log receives one line per Add and Del; nil discards.
	Log *slog.Logger
	// LoadModule loads a kernel module; nil runs `modprobe NAME`.
	LoadModule func(ctx context.Context, name string) error
}

func (c Config) withDefaults() (Config, error) {
	if c.NodeNetns == "" {
		return c, errors.New("cni: no node network namespace given")
	}
	if c.StateDir == "" {
		return c, errors.New("cni: no state folder given")
	}
	if !c.PodCIDR.IsValid() || !c.PodCIDR.Addr().Is4() {
		return c, fmt.Errorf("cni: pod CIDR %s is not an IPv4 prefix", c.PodCIDR)
	}
	c.PodCIDR = c.PodCIDR.Masked()
	if c.Bridge == "" {
		c.Bridge = DefaultBridge
	}
	if len(c.Bridge) > 15 {
		return c, fmt.Errorf("cni: bridge name %q is longer than 15 bytes", c.Bridge)
	}
	if !c.Gateway.IsValid() {
		c.Gateway = c.PodCIDR.Addr().Next()
	}
	if c.MTU != 0 && (c.MTU < 68 || c.MTU > 65535) {
		return c, fmt.Errorf("cni: MTU %d is out of 68..65535", c.MTU)
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.LoadModule == nil {
		c.LoadModule = modprobe
	}
	return c, nil
}

// nodePath is the file of the node's namespace.
func (c Config) nodePath() string {
	if filepath.IsAbs(c.NodeNetns) {
		return c.NodeNetns
	}
	return netns.Path(c.NodeNetns)
}

// PodRef names the pod a network belongs to. UID is the key of everything.
type PodRef struct {
	Namespace, Name, UID string
}

func (p PodRef) String() string { return p.Namespace + "/" + p.Name }

func (p PodRef) validate() error {
	if p.UID == "" {
		return fmt.Errorf("pod %s has no UID", p)
	}
	return nil
}

// validNetnsName accepts a plain file name under /run/netns.
func validNetnsName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') || len(name) > 255 {
		return fmt.Errorf("invalid network namespace name %q", name)
	}
	return nil
}
