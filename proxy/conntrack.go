package proxy

import (
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Conntrack removes connection tracking entries the rules no longer
// stand behind. NetlinkConntrack is the real one, on the namespace the
// proxy runs in.
type Conntrack interface {
	// ClearUnansweredTCP removes the TCP entries whose replies would come
	// from ep and that never had one: connection attempts still in
	// SYN_SENT.
	ClearUnansweredTCP(ep netip.AddrPort) error
	// ClearEndpoint removes the UDP entries whose replies come from ep: the
	// flows the rules sent there.
	ClearEndpoint(ep netip.AddrPort) error
	// ClearService removes the UDP entries to ip:port as the client sent
	// them (before any DNAT).
	ClearService(ip netip.Addr, port int32) error
}

// NetlinkConntrack talks to the kernel's conntrack table over netlink.
type NetlinkConntrack struct{}

// ClearUnansweredTCP exists because of how the kernel picks source ports:
// from a counter, without asking conntrack. An attempt to an endpoint that
// died leaves a SYN_SENT entry for 120 s, its DNAT to the dead endpoint
// included. When a later connection to the Service gets the same source
// port, its SYN matches that entry and follows the old DNAT, not the
// rules, and the client waits for an endpoint that is gone. Upstream
// kube-proxy clears only UDP entries; clearing the unanswered TCP ones of a
// gone endpoint also keeps no client from anything: none of them ever got
// an answer. Established and closing connections are left alone, so that
// terminating endpoints still drain.
func (NetlinkConntrack) ClearUnansweredTCP(ep netip.AddrPort) error {
	_, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, unansweredTCP{ep})
	return err
}

// unansweredTCP matches the SYN_SENT entries whose reply source is ep.
type unansweredTCP struct{ ep netip.AddrPort }

func (f unansweredTCP) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	tcp, ok := flow.ProtoInfo.(*netlink.ProtoInfoTCP)
	if !ok || flow.Forward.Protocol != unix.IPPROTO_TCP || tcp.State != nl.TCP_CONNTRACK_SYN_SENT {
		return false
	}
	src, ok := netip.AddrFromSlice(flow.Reverse.SrcIP)
	return ok && src.Unmap() == f.ep.Addr() && flow.Reverse.SrcPort == f.ep.Port()
}

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
