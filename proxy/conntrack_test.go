package proxy

import (
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

func flow(state uint8, client, origDst, replySrc string) *netlink.ConntrackFlow {
	c, d, r := netip.MustParseAddrPort(client), netip.MustParseAddrPort(origDst), netip.MustParseAddrPort(replySrc)
	return &netlink.ConntrackFlow{
		Forward:   netlink.IPTuple{Protocol: unix.IPPROTO_TCP, SrcIP: net.IP(c.Addr().AsSlice()), SrcPort: c.Port(), DstIP: net.IP(d.Addr().AsSlice()), DstPort: d.Port()},
		Reverse:   netlink.IPTuple{Protocol: unix.IPPROTO_TCP, SrcIP: net.IP(r.Addr().AsSlice()), SrcPort: r.Port(), DstIP: net.IP(c.Addr().AsSlice()), DstPort: c.Port()},
		ProtoInfo: &netlink.ProtoInfoTCP{State: state},
	}
}

func TestUnansweredTCPMatchesOnlyAttemptsTheRulesWouldNotMake(t *testing.T) {
	f := unansweredTCP{
		gone:     []netip.AddrPort{netip.MustParseAddrPort("10.244.3.2:8080")},
		services: []netip.AddrPort{netip.MustParseAddrPort("10.96.0.50:80")},
	}
	const synSent, established = nl.TCP_CONNTRACK_SYN_SENT, nl.TCP_CONNTRACK_ESTABLISHED
	for _, tt := range []struct {
		name string
		flow *netlink.ConntrackFlow
		want bool
	}{
		{"unanswered, DNATed to a gone endpoint", flow(synSent, "10.89.0.21:40000", "10.96.0.50:80", "10.244.3.2:8080"), true},
		{"unanswered, not DNATed, to a served ClusterIP", flow(synSent, "10.89.0.21:40000", "10.96.0.50:80", "10.96.0.50:80"), true},
		{"unanswered, DNATed to a live endpoint", flow(synSent, "10.89.0.21:40000", "10.96.0.50:80", "10.244.1.5:8080"), false},
		{"established to a gone endpoint: it drains", flow(established, "10.89.0.21:40000", "10.96.0.50:80", "10.244.3.2:8080"), false},
		{"unanswered, not DNATed, to another address", flow(synSent, "10.89.0.21:40000", "10.89.0.22:22", "10.89.0.22:22"), false},
	} {
		if got := f.MatchConntrackFlow(tt.flow); got != tt.want {
			t.Errorf("%s: matched %v, want %v", tt.name, got, tt.want)
		}
	}
}
