package linkfault

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestPartitionRulesDropPeersEachWayOrOneWay(t *testing.T) {
	saved := []byte("*mangle\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A PREROUTING -i eth0 -j KINNS-LINKFAULT-PART-IN\nCOMMIT\n")
	got := string(renderRules(saved, partitionChains, "eth0",
		[]string{"-s 10.89.0.11/32 -j DROP"}, []string{"-d 10.89.0.11/32 -j DROP"}))
	want := `*mangle
:KINNS-LINKFAULT-PART-IN - [0:0]
:KINNS-LINKFAULT-PART-OUT - [0:0]
-D PREROUTING -i eth0 -j KINNS-LINKFAULT-PART-IN
-A KINNS-LINKFAULT-PART-IN -s 10.89.0.11/32 -j DROP
-I PREROUTING 1 -i eth0 -j KINNS-LINKFAULT-PART-IN
-A KINNS-LINKFAULT-PART-OUT -d 10.89.0.11/32 -j DROP
-I POSTROUTING 1 -o eth0 -j KINNS-LINKFAULT-PART-OUT
COMMIT
`
	if got != want {
		t.Errorf("rules:\n%s\nwant:\n%s", got, want)
	}
	oneWay := string(renderRules(nil, partitionChains, "eth0", nil, []string{"-d 10.89.0.11/32 -j DROP"}))
	if strings.Contains(oneWay, "-A KINNS-LINKFAULT-PART-IN") {
		t.Errorf("one-way partition drops incoming packets:\n%s", oneWay)
	}
}

func TestPeerFilterMatchesEitherEnd(t *testing.T) {
	f := peerFilter{netip.MustParsePrefix("10.244.2.0/24"), netip.MustParsePrefix("10.89.0.11/32")}
	flow := func(src, dst, rsrc, rdst string) *netlink.ConntrackFlow {
		c := &netlink.ConntrackFlow{}
		c.Forward.SrcIP, c.Forward.DstIP = net.ParseIP(src), net.ParseIP(dst)
		c.Reverse.SrcIP, c.Reverse.DstIP = net.ParseIP(rsrc), net.ParseIP(rdst)
		return c
	}
	if !f.MatchConntrackFlow(flow("10.244.1.5", "10.96.0.10", "10.244.2.7", "10.244.1.5")) {
		t.Error("a flow DNATed to a peer's pod is not matched")
	}
	if !f.MatchConntrackFlow(flow("10.89.0.21", "10.89.0.11", "10.89.0.11", "10.89.0.21")) {
		t.Error("a flow to a peer host is not matched")
	}
	if f.MatchConntrackFlow(flow("10.244.1.5", "10.244.3.4", "10.244.3.4", "10.244.1.5")) {
		t.Error("a flow between others is matched")
	}
}
