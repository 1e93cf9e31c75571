package cloud

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/kinns/kinns/cni/netns"
)

// Fabric routes load balancer addresses to nodes. Sync makes the routes
// exactly want (address -> next hops, the nodes' fabric addresses) for the
// addresses of the pool: an address outside want loses its route, and
// nothing outside the pool is touched. It is idempotent.
type Fabric interface {
	Sync(ctx context.Context, want map[netip.Addr][]netip.Addr) error
}

// routeProtocol marks the fabric routes this package makes (rtm_protocol),
// so that it lists and deletes only its own.
const routeProtocol netlink.RouteProtocol = 0x6b

// netlinkFabric is the real Fabric, in the lab's fabric namespace, as a
// cloud's network routes a load balancer's address:
//
//   - the router link (a veth whose peer is a port of the bridge, with an
//     address of its own, made by the lab) has a proxy neighbour entry for
//     each address, so it answers the fabric's ARP requests for it with its
//     own MAC: hosts on the fabric (the client) send it their packets;
//   - a /32 route, ECMP over the chosen nodes' fabric addresses (onlink on
//     the bridge), forwards those packets to the nodes, hashed per
//     connection (the lab sets fib_multipath_hash_policy 1); each node's
//     proxy answers for the address (its rules for status.loadBalancer.ingress)
//     and replies straight to the client.
//
// The router link and the bridge are different links, which the kernel
// needs twice: it answers for a proxy entry only when the route to the
// address leaves by another link than the request came in on, and it
// sends no ICMP redirect (that would teach the client to skip the router
// and keep a node even after its route changed) when a packet leaves by
// another link than it came in on.
type netlinkFabric struct {
	netns          string // path
	bridge, router string
	pool           *Pool
}

func (f netlinkFabric) Sync(_ context.Context, want map[netip.Addr][]netip.Addr) error {
	h, err := netns.Handle(f.netns)
	if err != nil {
		return err
	}
	defer h.Close()
	br, err := h.LinkByName(f.bridge)
	if err != nil {
		return fmt.Errorf("find %s: %w", f.bridge, err)
	}
	rt, err := h.LinkByName(f.router)
	if err != nil {
		return fmt.Errorf("find the fabric's router link %s: %w", f.router, err)
	}
	if err := f.syncRoutes(h, br.Attrs().Index, want); err != nil {
		return err
	}
	return f.syncProxies(h, rt.Attrs().Index, want)
}

// syncRoutes replaces the routes that differ from want, deletes ours that
// want has not, and leaves the others alone.
func (f netlinkFabric) syncRoutes(h *netlink.Handle, bridge int, want map[netip.Addr][]netip.Addr) error {
	have, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: routeProtocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return fmt.Errorf("list fabric routes: %w", err)
	}
	current := map[netip.Addr][]netip.Addr{}
	for _, r := range have {
		dst, ok := routeDst(r)
		if !ok || !f.pool.Contains(dst) {
			continue
		}
		if _, ok := want[dst]; !ok {
			if err := h.RouteDel(&r); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("delete fabric route to %s: %w", dst, err)
			}
			continue
		}
		current[dst] = nextHops(r)
	}
	for dst, hops := range want {
		if slices.Equal(current[dst], hops) {
			continue
		}
		if err := h.RouteReplace(route(dst, hops, bridge)); err != nil {
			return fmt.Errorf("route %s via %v: %w", dst, hops, err)
		}
	}
	return nil
}

// route is dst/32 over every hop, onlink on the bridge (the fabric
// namespace needs no address of the fabric's subnet).
func route(dst netip.Addr, hops []netip.Addr, bridge int) *netlink.Route {
	r := &netlink.Route{Dst: hostNet(dst), Protocol: routeProtocol, Family: netlink.FAMILY_V4}
	for _, hop := range hops {
		r.MultiPath = append(r.MultiPath, &netlink.NexthopInfo{LinkIndex: bridge, Gw: net.IP(hop.AsSlice()), Flags: int(netlink.FLAG_ONLINK)})
	}
	return r
}

func routeDst(r netlink.Route) (netip.Addr, bool) {
	if r.Dst == nil {
		return netip.Addr{}, false
	}
	ones, bits := r.Dst.Mask.Size()
	a, ok := netip.AddrFromSlice(r.Dst.IP)
	return a.Unmap(), ok && ones == bits
}

// nextHops reads a route's gateways, sorted.
func nextHops(r netlink.Route) []netip.Addr {
	var out []netip.Addr
	add := func(ip net.IP) {
		if a, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, a.Unmap())
		}
	}
	if r.Gw != nil {
		add(r.Gw)
	}
	for _, nh := range r.MultiPath {
		add(nh.Gw)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// syncProxies gives the router link a proxy neighbour entry for each
// address of want, and takes away those of the pool that want has not.
func (f netlinkFabric) syncProxies(h *netlink.Handle, router int, want map[netip.Addr][]netip.Addr) error {
	have, err := h.NeighProxyList(router, unix.AF_INET)
	if err != nil {
		return fmt.Errorf("list proxy entries: %w", err)
	}
	present := map[netip.Addr]bool{}
	for _, n := range have {
		a, ok := netip.AddrFromSlice(n.IP)
		if !ok || !f.pool.Contains(a.Unmap()) {
			continue
		}
		a = a.Unmap()
		if _, ok := want[a]; ok {
			present[a] = true
			continue
		}
		if err := h.NeighDel(&n); err != nil && !errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("delete proxy entry for %s: %w", a, err)
		}
	}
	for a := range want {
		if present[a] {
			continue
		}
		n := &netlink.Neigh{LinkIndex: router, Family: unix.AF_INET, Flags: netlink.NTF_PROXY, IP: net.IP(a.AsSlice())}
		if err := h.NeighSet(n); err != nil {
			return fmt.Errorf("proxy entry for %s on %s: %w", a, f.router, err)
		}
	}
	return nil
}

func hostNet(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(32, 32)}
}
