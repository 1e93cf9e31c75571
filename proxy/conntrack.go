package proxy

import (
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Conntrack removes connection tracking entries of UDP flows.
// NetlinkConntrack is the real one, on the namespace the proxy runs in.
type Conntrack interface {
	// ClearEndpoint removes the UDP entries whose replies come from ep: the
	// flows the rules sent there.
	ClearEndpoint(ep netip.AddrPort) error
	// ClearService removes the UDP entries to ip:port as the client sent
	// them (before any DNAT).
	ClearService(ip netip.Addr, port int32) error
}

// NetlinkConntrack talks to the kernel's conntrack table over netlink.
type NetlinkConntrack struct{}

func (NetlinkConntrack) ClearEndpoint(ep netip.AddrPort) error {
	f := &netlink.ConntrackFilter{}
	if err := f.AddProtocol(unix.IPPROTO_UDP); err != nil {
		return err
	}
	if err := f.AddIP(netlink.ConntrackReplySrcIP, net.IP(ep.Addr().AsSlice())); err != nil {
		return err
	}
	return deleteFlows(f)
}

func (NetlinkConntrack) ClearService(ip netip.Addr, port int32) error {
	f := &netlink.ConntrackFilter{}
	if err := f.AddProtocol(unix.IPPROTO_UDP); err != nil {
		return err
	}
	if err := f.AddIP(netlink.ConntrackOrigDstIP, net.IP(ip.AsSlice())); err != nil {
		return err
	}
	if err := f.AddPort(netlink.ConntrackOrigDstPort, uint16(port)); err != nil {
		return err
	}
	return deleteFlows(f)
}

func deleteFlows(f *netlink.ConntrackFilter) error {
	_, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, f)
	return err
}
