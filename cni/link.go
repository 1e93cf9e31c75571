package cni

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	vns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/kinns/kinns/cni/netns"
)

// bridge finds the node's pod bridge; the topology made it, Add never does.
func (p *Plugin) bridge(node *netlink.Handle) (netlink.Link, error) {
	br, err := node.LinkByName(p.cfg.Bridge)
	if err != nil {
		return nil, fmt.Errorf("find bridge %s in %s: %w", p.cfg.Bridge, p.cfg.NodeNetns, err)
	}
	if br.Type() != "bridge" {
		return nil, fmt.Errorf("%s in %s is a %s, not a bridge", p.cfg.Bridge, p.cfg.NodeNetns, br.Type())
	}
	return br, nil
}

// pinBridgeMAC sets the bridge's MAC to the one it has. A bridge whose MAC was
// never set takes the lowest MAC of its ports, so it changes when that pod goes,
// and every other pod, whose ARP entry for the gateway now names a MAC nobody
// answers to, loses the gateway (and every other node and Service) for seconds.
// Setting it once, before the first port joins, freezes it. Done once per bridge
// and Plugin, since a MAC change notice flushes the node's ARP entries on it.
func (p *Plugin) pinBridgeMAC(node *netlink.Handle, br netlink.Link) error {
	p.pinMu.Lock()
	defer p.pinMu.Unlock()
	if p.pinnedBridge == br.Attrs().Index {
		return nil
	}
	if err := node.LinkSetHardwareAddr(br, br.Attrs().HardwareAddr); err != nil {
		return fmt.Errorf("pin the MAC of %s in %s: %w", p.cfg.Bridge, p.cfg.NodeNetns, err)
	}
	p.pinnedBridge = br.Attrs().Index
	return nil
}

// ensureVeth returns the pod's veth (node end), making the pair if it is missing
// or half there. created reports whether this call made it.
func (p *Plugin) ensureVeth(node, podNS *netlink.Handle, netnsName string, br netlink.Link, pod PodRef) (host netlink.Link, created bool, err error) {
	name := HostVethName(pod.UID)
	host, err = findLink(node, name)
	if err != nil {
		return nil, false, err
	}
	eth, err := findLink(podNS, PodInterface)
	if err != nil {
		return nil, false, err
	}
	if host != nil {
		if err := ownedVeth(host, pod); err != nil {
			return nil, false, fmt.Errorf("%s in %s: %w", name, p.cfg.NodeNetns, err)
		}
		if eth != nil && paired(host, eth) {
			return host, false, nil
		}
		if err := deleteLink(node, name); err != nil { // half a pair: start again
			return nil, false, err
		}
	}
	if eth != nil {
		if err := deleteLink(podNS, PodInterface); err != nil {
			return nil, false, err
		}
	}
	host, err = p.makeVeth(node, netnsName, br, pod)
	return host, err == nil, err
}

func (p *Plugin) makeVeth(node *netlink.Handle, netnsName string, br netlink.Link, pod PodRef) (netlink.Link, error) {
	target, err := vns.GetFromPath(netns.Path(netnsName))
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", netnsName, err)
	}
	defer target.Close()
	mtu := p.cfg.MTU
	if mtu == 0 {
		mtu = br.Attrs().MTU
	}
	name := HostVethName(pod.UID)
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: name, MTU: mtu, MasterIndex: br.Attrs().Index, Alias: vethAlias(pod)},
		PeerName:  PodInterface,
		// The peer is born in the pod's namespace, so its name never meets the
		// node's own eth0.
		PeerNamespace: netlink.NsFd(int(target)),
	}
	if err := node.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("create veth %s in %s with peer %s in %s: %w", name, p.cfg.NodeNetns, PodInterface, netnsName, err)
	}
	return node.LinkByName(name)
}

// vethAlias tells a person reading `ip link` whose veth this is, and tells Add
// whether a veth of this name belongs to the pod.
func vethAlias(pod PodRef) string { return "pod " + pod.String() + " " + pod.UID }

func ownedVeth(l netlink.Link, pod PodRef) error {
	if l.Type() != "veth" {
		return fmt.Errorf("a %s, not a veth, has the pod's veth name", l.Type())
	}
	alias := l.Attrs().Alias
	if alias != "" && alias[strings.LastIndexByte(alias, ' ')+1:] != pod.UID {
		return fmt.Errorf("veth name collision: it belongs to %q, not to pod %s %s", alias, pod, pod.UID)
	}
	return nil
}

// paired reports whether two veths, each in its own namespace, are ends of one
// pair: each one's link index names the other.
func paired(a, b netlink.Link) bool {
	return a.Type() == "veth" && b.Type() == "veth" &&
		a.Attrs().ParentIndex == b.Attrs().Index && b.Attrs().ParentIndex == a.Attrs().Index
}

// plugHost makes the node end a bridge port with hairpin mode, so a pod can
// reach itself through a Service address, and sets it up.
func (p *Plugin) plugHost(node *netlink.Handle, host, br netlink.Link) error {
	name := host.Attrs().Name
	if host.Attrs().MasterIndex != br.Attrs().Index {
		if err := node.LinkSetMaster(host, br); err != nil {
			return fmt.Errorf("attach %s to %s: %w", name, p.cfg.Bridge, err)
		}
	}
	if err := node.LinkSetHairpin(host, true); err != nil {
		return fmt.Errorf("set hairpin on %s: %w", name, err)
	}
	if err := node.LinkSetUp(host); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// configurePod brings lo and eth0 up with the pod's address only, and routes
// everything via the gateway.
func (p *Plugin) configurePod(podNS *netlink.Handle, addr netip.Prefix) error {
	lo, err := podNS.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo: %w", err)
	}
	if err := podNS.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	eth, err := podNS.LinkByName(PodInterface)
	if err != nil {
		return fmt.Errorf("find %s: %w", PodInterface, err)
	}
	if err := setOnlyAddr(podNS, eth, addr); err != nil {
		return err
	}
	if err := podNS.LinkSetUp(eth); err != nil {
		return fmt.Errorf("set %s up: %w", PodInterface, err)
	}
	def := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: net.IP(p.cfg.Gateway.AsSlice())}
	if err := podNS.RouteReplace(def); err != nil {
		return fmt.Errorf("default route via %s: %w", p.cfg.Gateway, err)
	}
	return nil
}

// linkUpTimeout bounds the wait for the kernel to report a veth end up; it
// normally takes well under a millisecond, at worst about a second.
const linkUpTimeout = 3 * time.Second

// waitOperUp waits until the named link is operationally up. A veth end that
// was set up before its peer gets its carrier, and its transmit queue, only
// when the kernel's link watcher runs, asynchronously; until then everything
// sent through it is dropped, so a pod that talks at once would lose its first
// ARP and wait a second for the retry. The operational state is set by that
// same link watcher pass.
func waitOperUp(ctx context.Context, h *netlink.Handle, name string) (netlink.Link, error) {
	ctx, cancel := context.WithTimeout(ctx, linkUpTimeout)
	defer cancel()
	wait := 100 * time.Microsecond
	for {
		l, err := h.LinkByName(name)
		if err != nil {
			return nil, fmt.Errorf("find %s: %w", name, err)
		}
		if l.Attrs().OperState == netlink.OperUp {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for %s to come up (it is %s): %w", name, l.Attrs().OperState, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Millisecond)
	}
}

// setOnlyAddr leaves addr as the only IPv4 address of l.
func setOnlyAddr(h *netlink.Handle, l netlink.Link, addr netip.Prefix) error {
	have, err := h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", l.Attrs().Name, err)
	}
	found := false
	for _, a := range have {
		if prefixOf(a.IPNet) == addr {
			found = true
			continue
		}
		if err := h.AddrDel(l, &a); err != nil {
			return fmt.Errorf("remove stale %s from %s: %w", a.IPNet, l.Attrs().Name, err)
		}
	}
	if found {
		return nil
	}
	if err := h.AddrAdd(l, &netlink.Addr{IPNet: ipNet(addr)}); err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("add %s to %s: %w", addr, l.Attrs().Name, err)
	}
	return nil
}

func (p *Plugin) prefix(ip netip.Addr) netip.Prefix {
	return netip.PrefixFrom(ip, p.cfg.PodCIDR.Bits())
}

// findLink returns nil, nil when there is no such link.
func findLink(h *netlink.Handle, name string) (netlink.Link, error) {
	l, err := h.LinkByName(name)
	if isLinkNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find link %s: %w", name, err)
	}
	return l, nil
}

// deleteLink removes the named link; a missing one is success.
func deleteLink(h *netlink.Handle, name string) error {
	l, err := findLink(h, name)
	if err != nil || l == nil {
		return err
	}
	if err := h.LinkDel(l); err != nil && !isLinkNotFound(err) {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

func isLinkNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, syscall.ENODEV)
}

// isNetnsFile reports whether path is a mounted network namespace.
func isNetnsFile(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func prefixOf(n *net.IPNet) netip.Prefix {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}
