package cloud

import (
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/vishvananda/netlink"
)

// The route a Sync writes reads back as the same next hops, so an
// unchanged decision rewrites nothing.
func TestRouteRoundTrips(t *testing.T) {
	hops := []netip.Addr{ip("10.89.0.21"), ip("10.89.0.23")}
	r := route(ip("10.89.0.200"), hops, 7)
	if r.Protocol != routeProtocol || r.Dst.String() != "10.89.0.200/32" || len(r.MultiPath) != 2 {
		t.Fatalf("route %+v", r)
	}
	for _, nh := range r.MultiPath {
		if nh.LinkIndex != 7 || nh.Flags&int(netlink.FLAG_ONLINK) == 0 {
			t.Errorf("next hop %+v: want onlink on the bridge", nh)
		}
	}
	if got := nextHops(*r); !reflect.DeepEqual(got, hops) {
		t.Errorf("next hops %v, want %v", got, hops)
	}
	if dst, ok := routeDst(*r); !ok || dst != ip("10.89.0.200") {
		t.Errorf("dst %s %v", dst, ok)
	}
	// The kernel reports a route with one next hop as a plain gateway.
	single := netlink.Route{Dst: hostNet(ip("10.89.0.201")), Gw: net.ParseIP("10.89.0.22")}
	if got := nextHops(single); !reflect.DeepEqual(got, []netip.Addr{ip("10.89.0.22")}) {
		t.Errorf("single next hop %v", got)
	}
	wide := netlink.Route{Dst: &net.IPNet{IP: net.ParseIP("10.89.0.0").To4(), Mask: net.CIDRMask(24, 32)}}
	if _, ok := routeDst(wide); ok {
		t.Error("a /24 taken for a load balancer route")
	}
}
