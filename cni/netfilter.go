package cni

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"strings"
)

// ErrBridgeNetfilter means the node cannot pass bridged traffic through
// iptables: the br_netfilter kernel module is missing.
var ErrBridgeNetfilter = errors.New("bridge netfilter unavailable")

// brNetfilterModule makes bridged IPv4/IPv6 traffic visible to iptables.
const brNetfilterModule = "br_netfilter"

// bridgeSysctls make the node's iptables see traffic between two ports of the
// bridge. Without them a Service reply from one pod to another pod of the same
// node is bridged straight back and never un-DNATed, so the client sees an
// answer from an address it never called.
var bridgeSysctls = []string{
	"net/bridge/bridge-nf-call-iptables",
	"net/bridge/bridge-nf-call-ip6tables",
}

// ensureBridgeNetfilter turns the bridge sysctls on in the node namespace,
// loading br_netfilter once if they are missing. It runs on every Add, so a
// sysctl turned off by hand comes back with the next pod.
func (p *Plugin) ensureBridgeNetfilter(ctx context.Context) error {
	err := p.setBridgeSysctls()
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if lerr := p.cfg.LoadModule(ctx, brNetfilterModule); lerr != nil {
		return fmt.Errorf("%w: /proc/sys/net/bridge is missing in %s and loading kernel module %s failed: %v",
			ErrBridgeNetfilter, p.cfg.NodeNetns, brNetfilterModule, lerr)
	}
	if err := p.setBridgeSysctls(); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: kernel module %s is loaded but /proc/sys/net/bridge is still missing in %s",
				ErrBridgeNetfilter, brNetfilterModule, p.cfg.NodeNetns)
		}
		return err
	}
	return nil
}

func (p *Plugin) setBridgeSysctls() error {
	for _, key := range bridgeSysctls {
		if err := p.sysctl(p.nodePath, key, "1"); err != nil {
			return fmt.Errorf("set %s=1 in %s: %w", key, p.cfg.NodeNetns, err)
		}
	}
	return nil
}

// modprobe loads a kernel module with the host's modprobe. Module loading is
// global to the kernel, so it need not run in any particular namespace.
func modprobe(ctx context.Context, name string) error {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "modprobe", name)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("modprobe %s: %w: %s", name, err, strings.TrimSpace(out.String()))
	}
	return nil
}
