package cni

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/kinns/kinns/cni/netns"
)

// ErrNotReady wraps every problem Check and Status find.
var ErrNotReady = errors.New("pod network not ready")

// Check reports whether the pod's network is what Add makes, without changing
// anything. It returns the pod's Result when it is; an error wrapping
// ErrNotReady names the first thing missing (call Add to repair it).
func (p *Plugin) Check(ctx context.Context, pod PodRef, netnsName string) (Result, error) {
	if err := p.checkArgs(pod, netnsName); err != nil {
		return Result{}, err
	}
	res, err := p.check(ctx, pod, netnsName)
	if err != nil {
		return Result{}, fmt.Errorf("check pod %s: %w", pod, err)
	}
	return res, nil
}

func (p *Plugin) check(ctx context.Context, pod PodRef, netnsName string) (Result, error) {
	ip, ok, err := p.ipam.Get(ctx, pod.UID)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fmt.Errorf("%w: no address allocated", ErrNotReady)
	}
	if !netns.Exists(netnsName) {
		return Result{}, fmt.Errorf("%w: network namespace %s is missing", ErrNotReady, netnsName)
	}
	node, err := netns.Handle(p.nodePath)
	if err != nil {
		return Result{}, err
	}
	defer node.Close()
	host, err := p.checkHost(node, pod)
	if err != nil {
		return Result{}, err
	}
	podNS, err := netns.Handle(netns.Path(netnsName))
	if err != nil {
		return Result{}, err
	}
	defer podNS.Close()
	eth, err := p.checkPod(podNS, host, ip)
	if err != nil {
		return Result{}, err
	}
	return p.result(ip, host, eth, netnsName), nil
}

func (p *Plugin) checkHost(node *netlink.Handle, pod PodRef) (netlink.Link, error) {
	name := HostVethName(pod.UID)
	host, err := findLink(node, name)
	switch {
	case err != nil:
		return nil, err
	case host == nil:
		return nil, fmt.Errorf("%w: veth %s is missing in %s", ErrNotReady, name, p.cfg.NodeNetns)
	}
	if err := ownedVeth(host, pod); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotReady, name, err)
	}
	br, err := p.bridge(node)
	if err != nil {
		return nil, err
	}
	if host.Attrs().MasterIndex != br.Attrs().Index {
		return nil, fmt.Errorf("%w: %s is not a port of %s", ErrNotReady, name, p.cfg.Bridge)
	}
	if host.Attrs().Flags&net.FlagUp == 0 {
		return nil, fmt.Errorf("%w: %s is down", ErrNotReady, name)
	}
	pi, err := node.LinkGetProtinfo(host)
	if err != nil {
		return nil, fmt.Errorf("read bridge port flags of %s: %w", name, err)
	}
	if !pi.Hairpin {
		return nil, fmt.Errorf("%w: hairpin is off on %s", ErrNotReady, name)
	}
	return host, nil
}

func (p *Plugin) checkPod(podNS *netlink.Handle, host netlink.Link, ip netip.Addr) (netlink.Link, error) {
	eth, err := findLink(podNS, PodInterface)
	switch {
	case err != nil:
		return nil, err
	case eth == nil || !paired(host, eth):
		return nil, fmt.Errorf("%w: %s is missing or not the peer of %s", ErrNotReady, PodInterface, host.Attrs().Name)
	case eth.Attrs().Flags&net.FlagUp == 0:
		return nil, fmt.Errorf("%w: %s is down", ErrNotReady, PodInterface)
	}
	addrs, err := podNS.AddrList(eth, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", PodInterface, err)
	}
	if !hasAddr(addrs, p.prefix(ip)) {
		return nil, fmt.Errorf("%w: %s lacks %s", ErrNotReady, PodInterface, p.prefix(ip))
	}
	routes, err := podNS.RouteList(eth, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list routes of %s: %w", PodInterface, err)
	}
	if !hasDefaultVia(routes, p.cfg.Gateway) {
		return nil, fmt.Errorf("%w: no default route via %s", ErrNotReady, p.cfg.Gateway)
	}
	return eth, nil
}

func hasAddr(addrs []netlink.Addr, want netip.Prefix) bool {
	for _, a := range addrs {
		if prefixOf(a.IPNet) == want {
			return true
		}
	}
	return false
}

func hasDefaultVia(routes []netlink.Route, gw netip.Addr) bool {
	for _, r := range routes {
		isDefault := r.Dst == nil || (r.Dst.IP.IsUnspecified() && prefixOf(r.Dst).Bits() == 0)
		if isDefault && r.Gw.Equal(net.IP(gw.AsSlice())) {
			return true
		}
	}
	return false
}

// Status reports whether the node can take pods: its namespace and bridge are
// there and up, bridged traffic goes through iptables, and the address state
// is readable.
func (p *Plugin) Status(ctx context.Context) error {
	if !isNetnsFile(p.nodePath) {
		return fmt.Errorf("%w: node network namespace %s is missing", ErrNotReady, p.cfg.NodeNetns)
	}
	node, err := netns.Handle(p.nodePath)
	if err != nil {
		return err
	}
	defer node.Close()
	br, err := p.bridge(node)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotReady, err)
	}
	if br.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("%w: bridge %s is down", ErrNotReady, p.cfg.Bridge)
	}
	for _, key := range bridgeSysctls {
		v, err := p.readSysctl(p.nodePath, key)
		if err != nil || v != "1" {
			return fmt.Errorf("%w: %s is %q in %s (%v)", ErrNotReady, key, v, p.cfg.NodeNetns, err)
		}
	}
	if _, err := p.ipam.List(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrNotReady, err)
	}
	return nil
}

// readSysctl reads /proc/sys/<key> inside the namespace at path.
func readSysctl(path, key string) (string, error) {
	var v []byte
	err := netns.Do(path, func() (err error) {
		v, err = os.ReadFile(filepath.Join("/proc/sys", key))
		return err
	})
	return strings.TrimSpace(string(v)), err
}
