package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
	vns "github.com/vishvananda/netns"
	"golang.org/x/sync/errgroup"

	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/harness/state"
	"github.com/kinns/kinns/harness/topology"
)

// Builder lays down a plan.
type Builder struct {
	// Record is called before each resource is made.
	Record func(state.Resource) error
	Log    *slog.Logger
	// Parallel bounds how many hosts are wired at once (default 8).
	Parallel int
}

// Build creates the fabric, then every host concurrently. On error, what was made
// is left for the caller to remove from the journal.
func (b Builder) Build(ctx context.Context, p topology.Plan) error {
	if err := b.fabric(p); err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	limit := b.Parallel
	if limit <= 0 {
		limit = 8
	}
	g.SetLimit(limit)
	for _, h := range p.Hosts {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return b.host(p, h)
		})
	}
	return g.Wait()
}

func (b Builder) fabric(p topology.Plan) error {
	if err := b.netns(p.FabricNetns); err != nil {
		return err
	}
	h, err := netns.Handle(netns.Path(p.FabricNetns))
	if err != nil {
		return err
	}
	defer h.Close()
	if err := loUp(h); err != nil {
		return fmt.Errorf("fabric %s: %w", p.FabricNetns, err)
	}
	if err := b.Record(state.Resource{Kind: state.KindLink, Name: topology.FabricBridge, Netns: p.FabricNetns}); err != nil {
		return err
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: topology.FabricBridge}}
	if err := ensureLink(h, br); err != nil {
		return fmt.Errorf("create bridge %s in %s: %w", topology.FabricBridge, p.FabricNetns, err)
	}
	if err := h.LinkSetUp(br); err != nil {
		return fmt.Errorf("set %s up: %w", topology.FabricBridge, err)
	}
	return nil
}

func (b Builder) netns(name string) error {
	if err := b.Record(state.Resource{Kind: state.KindNetns, Name: name}); err != nil {
		return err
	}
	if err := netns.Create(name); err != nil {
		return err
	}
	return nil
}

// host makes the host's namespace, plugs it into the fabric and configures it.
func (b Builder) host(p topology.Plan, host topology.Host) error {
	if err := b.netns(host.Netns); err != nil {
		return err
	}
	if err := b.plug(p, host); err != nil {
		return fmt.Errorf("plug %s into the fabric: %w", host.Name, err)
	}
	if err := b.configure(p, host); err != nil {
		return fmt.Errorf("configure %s: %w", host.Name, err)
	}
	return nil
}

// plug creates the veth pair: host.FabricLink in the fabric, enslaved to the
// bridge, and topology.HostLink inside the host.
func (b Builder) plug(p topology.Plan, host topology.Host) error {
	fh, err := netns.Handle(netns.Path(p.FabricNetns))
	if err != nil {
		return err
	}
	defer fh.Close()
	target, err := vns.GetFromPath(netns.Path(host.Netns))
	if err != nil {
		return fmt.Errorf("open netns %s: %w", host.Netns, err)
	}
	defer target.Close()
	if err := b.Record(state.Resource{Kind: state.KindLink, Name: host.FabricLink, Netns: p.FabricNetns}); err != nil {
		return err
	}
	br, err := fh.LinkByName(topology.FabricBridge)
	if err != nil {
		return fmt.Errorf("find %s: %w", topology.FabricBridge, err)
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: host.FabricLink, MasterIndex: br.Attrs().Index},
		PeerName:      topology.HostLink,
		PeerNamespace: netlink.NsFd(int(target)),
	}
	if err := ensureLink(fh, veth); err != nil {
		return fmt.Errorf("create veth %s/%s: %w", host.FabricLink, topology.HostLink, err)
	}
	if err := fh.LinkSetUp(veth); err != nil {
		return fmt.Errorf("set %s up: %w", host.FabricLink, err)
	}
	return nil
}

func (b Builder) configure(p topology.Plan, host topology.Host) error {
	path := netns.Path(host.Netns)
	h, err := netns.Handle(path)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := loUp(h); err != nil {
		return err
	}
	eth, err := h.LinkByName(topology.HostLink)
	if err != nil {
		return fmt.Errorf("find %s: %w", topology.HostLink, err)
	}
	if err := addAddr(h, eth, netip.PrefixFrom(host.IP, topology.FabricSubnet.Bits())); err != nil {
		return err
	}
	if err := h.LinkSetUp(eth); err != nil {
		return fmt.Errorf("set %s up: %w", topology.HostLink, err)
	}
	if host.IsNode() {
		if err := b.podBridge(h, host); err != nil {
			return err
		}
	}
	for _, r := range append(p.PodRoutes(host), p.ServiceRoutes(host)...) {
		if err := addRoute(h, eth, r); err != nil {
			return err
		}
	}
	if host.IsNode() {
		// A node forwards between its pods, the fabric and other nodes.
		if err := netns.Sysctl(path, "net/ipv4/ip_forward", "1"); err != nil {
			return fmt.Errorf("enable forwarding: %w", err)
		}
	}
	return nil
}

// podBridge makes the node's cni0 with the pods' gateway address.
func (b Builder) podBridge(h *netlink.Handle, host topology.Host) error {
	if err := b.Record(state.Resource{Kind: state.KindLink, Name: topology.NodeBridge, Netns: host.Netns}); err != nil {
		return err
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: topology.NodeBridge}}
	if err := ensureLink(h, br); err != nil {
		return fmt.Errorf("create bridge %s: %w", topology.NodeBridge, err)
	}
	if err := addAddr(h, br, netip.PrefixFrom(host.PodGateway, host.PodCIDR.Bits())); err != nil {
		return err
	}
	if err := h.LinkSetUp(br); err != nil {
		return fmt.Errorf("set %s up: %w", topology.NodeBridge, err)
	}
	return nil
}

func loUp(h *netlink.Handle) error {
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}

// ensureLink adds l; an existing link of the same name and type is fine.
func ensureLink(h *netlink.Handle, l netlink.Link) error {
	err := h.LinkAdd(l)
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.EEXIST) {
		old, lerr := h.LinkByName(l.Attrs().Name)
		if lerr == nil && old.Type() == l.Type() {
			return nil
		}
		return fmt.Errorf("a link %q of another kind exists: %w", l.Attrs().Name, err)
	}
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("the kernel cannot make %s links (load its module: modprobe %s): %w", l.Type(), l.Type(), err)
	}
	return err
}

func addAddr(h *netlink.Handle, l netlink.Link, p netip.Prefix) error {
	a := &netlink.Addr{IPNet: ipNet(p)}
	if err := h.AddrAdd(l, a); err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("add %s to %s: %w", p, l.Attrs().Name, err)
	}
	return nil
}

func addRoute(h *netlink.Handle, l netlink.Link, r topology.Route) error {
	nr := &netlink.Route{LinkIndex: l.Attrs().Index, Dst: ipNet(r.Dst), Gw: net.IP(r.Via.AsSlice())}
	if !r.Via.IsValid() {
		nr.Scope = netlink.SCOPE_LINK // on the link itself, as `ip route add … dev` makes it
	}
	if err := h.RouteReplace(nr); err != nil {
		return fmt.Errorf("route %s via %s: %w", r.Dst, r.Via, err)
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// RemoveLink deletes a link recorded in the journal. A link or namespace that is
// already gone is success.
func RemoveLink(netnsName, link string) error {
	if !netns.Exists(netnsName) {
		return nil
	}
	h, err := netns.Handle(netns.Path(netnsName))
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(link)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("find link %s in %s: %w", link, netnsName, err)
	}
	if err := h.LinkDel(l); err != nil && !errors.Is(err, syscall.ENODEV) {
		return fmt.Errorf("delete link %s in %s: %w", link, netnsName, err)
	}
	return nil
}

// SetLinkUp sets a host's fabric link up or down (a cable pulled or plugged back).
func SetLinkUp(p topology.Plan, host topology.Host, up bool) error {
	h, err := netns.Handle(netns.Path(p.FabricNetns))
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(host.FabricLink)
	if err != nil {
		return fmt.Errorf("find fabric link of %s: %w", host.Name, err)
	}
	if up {
		err = h.LinkSetUp(l)
	} else {
		err = h.LinkSetDown(l)
	}
	if err != nil {
		return fmt.Errorf("set fabric link of %s up=%t: %w", host.Name, up, err)
	}
	return nil
}

// LinkUp reports whether a host's fabric link is administratively up.
func LinkUp(p topology.Plan, host topology.Host) (bool, error) {
	h, err := netns.Handle(netns.Path(p.FabricNetns))
	if err != nil {
		return false, err
	}
	defer h.Close()
	l, err := h.LinkByName(host.FabricLink)
	if err != nil {
		return false, fmt.Errorf("find fabric link of %s: %w", host.Name, err)
	}
	return l.Attrs().Flags&net.FlagUp != 0, nil
}
