package proxy

import (
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Conntrack removes connection tracking entries the rules no longer
// stand behind. NetlinkConntrack is the real one, on the namespace the
// proxy runs in.
type Conntrack interface {
	// ClearUnansweredTCP removes the TCP entries still in SYN_SENT (never
	// answered) that the rules would not make now: those whose reply would
	// come from an endpoint in gone, and those to a ClusterIP:port in
	// services that no rule DNATed. One pass over the table.
	ClearUnansweredTCP(gone, services []netip.AddrPort) error
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
// from a counter, without asking conntrack. An attempt left unanswered
// leaves a SYN_SENT entry for 120 s, with its NAT: a DNAT to an endpoint
// that died, or none at all when it was made while the Service's rules were
// missing (a flushed chain). When a later connection to the Service gets
// the same source port, its SYN matches that entry and follows it, not the
// rules, and the client waits for an answer that cannot come. Upstream
// kube-proxy clears only UDP entries; clearing these TCP ones keeps no
// client from anything: none of them ever got an answer. Established and
// closing connections are left alone, so that terminating endpoints still
// drain.
func (NetlinkConntrack) ClearUnansweredTCP(gone, services []netip.AddrPort) error {
	if len(gone) == 0 && len(services) == 0 {
		return nil
	}
	_, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, unansweredTCP{gone, services})
	return err
}

// unansweredTCP matches the SYN_SENT entries whose reply source is one of
// gone, or that go to one of services and were not DNATed.
type unansweredTCP struct{ gone, services []netip.AddrPort }

func (f unansweredTCP) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	tcp, ok := flow.ProtoInfo.(*netlink.ProtoInfoTCP)
	if !ok || flow.Forward.Protocol != unix.IPPROTO_TCP || tcp.State != nl.TCP_CONNTRACK_SYN_SENT {
		return false
	}
	replySrc, ok1 := addrPort(flow.Reverse.SrcIP, flow.Reverse.SrcPort)
	origDst, ok2 := addrPort(flow.Forward.DstIP, flow.Forward.DstPort)
	if !ok1 || !ok2 {
		return false
	}
	if slices.Contains(f.gone, replySrc) {
		return true
	}
	return replySrc == origDst && slices.Contains(f.services, origDst)
}

func addrPort(ip net.IP, port uint16) (netip.AddrPort, bool) {
	a, ok := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(a.Unmap(), port), ok
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
