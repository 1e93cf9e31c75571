package network

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/harness/state"
	"github.com/kinns/kinns/harness/topology"
)

// Router gives the fabric its router for LoadBalancer addresses: a veth
// pair inside the fabric namespace, topology.RouterLink (with the address
// topology.FabricRouter/32) and its peer topology.RouterPort, a port of
// the bridge; and, in that namespace only, the settings the cloud
// controller's routes need (see controlplane/cloud's netlinkFabric):
//
//   - forwarding on, so the router forwards what hosts send to an address
//     to the nodes its route names;
//   - no reverse-path filter: the fabric namespace has no route back to
//     the senders, the nodes answer them directly;
//   - proxy_delay 0 on the router, so it answers ARP for an address at
//     once instead of after a random delay of up to 0.8 s;
//   - fib_multipath_hash_policy 1: an ECMP route spreads connections by
//     their ports too, not only by the client's address.
//
// The addresses and routes themselves are the cloud controller's.
func (b Builder) Router(p topology.Plan) error {
	h, err := netns.Handle(netns.Path(p.FabricNetns))
	if err != nil {
		return err
	}
	defer h.Close()
	if err := b.Record(state.Resource{Kind: state.KindLink, Name: topology.RouterLink, Netns: p.FabricNetns}); err != nil {
		return err
	}
	br, err := h.LinkByName(topology.FabricBridge)
	if err != nil {
		return fmt.Errorf("find %s: %w", topology.FabricBridge, err)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: topology.RouterLink}, PeerName: topology.RouterPort}
	if err := ensureLink(h, veth); err != nil {
		return fmt.Errorf("create veth %s/%s: %w", topology.RouterLink, topology.RouterPort, err)
	}
	port, err := h.LinkByName(topology.RouterPort)
	if err != nil {
		return fmt.Errorf("find %s: %w", topology.RouterPort, err)
	}
	if err := h.LinkSetMaster(port, br); err != nil {
		return fmt.Errorf("plug %s into %s: %w", topology.RouterPort, topology.FabricBridge, err)
	}
	router, err := h.LinkByName(topology.RouterLink)
	if err != nil {
		return fmt.Errorf("find %s: %w", topology.RouterLink, err)
	}
	if err := addAddr(h, router, netip.PrefixFrom(topology.FabricRouter, 32)); err != nil {
		return err
	}
	for _, l := range []netlink.Link{port, router} {
		if err := h.LinkSetUp(l); err != nil {
			return fmt.Errorf("set %s up: %w", l.Attrs().Name, err)
		}
	}
	return routerSysctls(netns.Path(p.FabricNetns))
}

func routerSysctls(path string) error {
	for _, kv := range [][2]string{
		{"net/ipv4/ip_forward", "1"},
		{"net/ipv4/conf/all/rp_filter", "0"},
		{"net/ipv4/conf/" + topology.RouterLink + "/rp_filter", "0"},
		{"net/ipv4/neigh/" + topology.RouterLink + "/proxy_delay", "0"},
		{"net/ipv4/fib_multipath_hash_policy", "1"},
	} {
		if err := netns.Sysctl(path, kv[0], kv[1]); err != nil {
			return fmt.Errorf("fabric router: set %s: %w", kv[0], err)
		}
	}
	return nil
}
