package topology

import (
	"net/netip"
	"strings"
	"testing"
)

func TestNewDerivesNamesAndAddresses(t *testing.T) {
	p, err := New("kinns", 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name, netns, ip, pod string
		role                 Role
	}{
		{"cp-1", "kinns-cp-1", "10.89.0.11", "", RoleControlPlane},
		{"cp-2", "kinns-cp-2", "10.89.0.12", "", RoleControlPlane},
		{"cp-3", "kinns-cp-3", "10.89.0.13", "", RoleControlPlane},
		{"node-1", "kinns-node-1", "10.89.0.21", "10.244.1.0/24", RoleNode},
		{"node-2", "kinns-node-2", "10.89.0.22", "10.244.2.0/24", RoleNode},
		{"node-3", "kinns-node-3", "10.89.0.23", "10.244.3.0/24", RoleNode},
		{"client", "kinns-client", "10.89.0.100", "", RoleClient},
	}
	if len(p.Hosts) != len(want) {
		t.Fatalf("got %d hosts, want %d", len(p.Hosts), len(want))
	}
	for i, w := range want {
		h := p.Hosts[i]
		if h.Name != w.name || h.Netns != w.netns || h.IP.String() != w.ip || h.Role != w.role {
			t.Errorf("host %d = %+v, want %+v", i, h, w)
		}
		if w.pod != "" && (h.PodCIDR.String() != w.pod || h.PodGateway != h.PodCIDR.Addr().Next()) {
			t.Errorf("host %s pod range %s gw %s, want %s", h.Name, h.PodCIDR, h.PodGateway, w.pod)
		}
		if len(h.FabricLink) > 15 {
			t.Errorf("link name %q longer than IFNAMSIZ", h.FabricLink)
		}
	}
	if p.FabricNetns != "kinns-fabric" {
		t.Errorf("fabric netns %q", p.FabricNetns)
	}
}

func TestNewLargestLabStaysInPlan(t *testing.T) {
	p, err := New(strings.Repeat("a", MaxNameLen), MaxNodes)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Addr]string{}
	for _, h := range p.Hosts {
		if !FabricSubnet.Contains(h.IP) || h.IP == APIVIP {
			t.Errorf("%s has %s outside the fabric plan", h.Name, h.IP)
		}
		if other, dup := seen[h.IP]; dup {
			t.Errorf("%s and %s share %s", h.Name, other, h.IP)
		}
		seen[h.IP] = h.Name
		if h.IsNode() && !PodSubnet.Contains(h.PodCIDR.Addr()) {
			t.Errorf("%s pod range %s outside %s", h.Name, h.PodCIDR, PodSubnet)
		}
		if len(h.FabricLink) > 15 {
			t.Errorf("link name %q longer than IFNAMSIZ", h.FabricLink)
		}
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes int
	}{
		{"", 3}, {"Kinns", 3}, {"1lab", 3}, {"lab-", 3}, {"a_b", 3},
		{strings.Repeat("a", MaxNameLen+1), 3}, {"ok", 0}, {"ok", MaxNodes + 1},
	} {
		if _, err := New(tc.name, tc.nodes); err == nil {
			t.Errorf("New(%q, %d) succeeded, want an error", tc.name, tc.nodes)
		}
	}
}

func TestPodRoutes(t *testing.T) {
	p, _ := New("x", 3)
	n2, _ := p.Host("node-2")
	got := p.PodRoutes(n2)
	if len(got) != 2 || got[0].Dst.String() != "10.244.1.0/24" || got[0].Via.String() != "10.89.0.21" ||
		got[1].Dst.String() != "10.244.3.0/24" || got[1].Via.String() != "10.89.0.23" {
		t.Errorf("node-2 routes = %v", got)
	}
	// Every cp host runs an API server in HA labs, and each dials webhook and
	// aggregated API pods on any node (endpoint routing).
	for _, cp := range p.ControlPlane() {
		got := p.PodRoutes(cp)
		if len(got) != 3 {
			t.Errorf("%s should route to all 3 pod ranges, got %v", cp.Name, got)
			continue
		}
		for i, n := range p.Nodes() {
			if got[i].Dst != n.PodCIDR || got[i].Via != n.IP {
				t.Errorf("%s route %d = %v, want %s via %s", cp.Name, i, got[i], n.PodCIDR, n.IP)
			}
		}
	}
	c, _ := p.Host("client")
	if len(p.PodRoutes(c)) != 0 {
		t.Errorf("client must not route to pods: %v", p.PodRoutes(c))
	}
}

func TestServiceRoutesOnlyOnNodes(t *testing.T) {
	p, _ := New("x", 2)
	n1, _ := p.Host("node-1")
	if got := p.ServiceRoutes(n1); len(got) != 1 || got[0].Dst != ServiceSubnet || got[0].Via.IsValid() {
		t.Errorf("node-1 service routes = %v", got)
	}
	for _, name := range []string{"cp-1", "client"} {
		h, _ := p.Host(name)
		if got := p.ServiceRoutes(h); len(got) != 0 {
			t.Errorf("%s service routes = %v", name, got)
		}
	}
}
