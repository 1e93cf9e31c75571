package cloud

import (
	"net/netip"
	"reflect"
	"testing"
)

var (
	n1 = NodeState{IP: ip("10.89.0.21"), Ready: true}
	n2 = NodeState{IP: ip("10.89.0.22"), Ready: true}
	n3 = NodeState{IP: ip("10.89.0.23"), Ready: true}
)

func nodesOf(states map[string]NodeState) []string {
	var out []string
	for n := range states {
		out = append(out, n)
	}
	return out
}

func TestRoutesGoToReadyNodesThatPassTheirCheck(t *testing.T) {
	nodes := map[string]NodeState{"node-1": n1, "node-2": {IP: n2.IP, Ready: false}, "node-3": n3, "node-4": {Ready: true}}
	cluster := Balancer{Key: "default/web", Addr: ip("10.89.0.200"), Nodes: append(nodesOf(nodes), "gone")}
	local := Balancer{Key: "default/local", Addr: ip("10.89.0.201"), Nodes: nodesOf(nodes), HealthCheckNodePort: 31000}
	failed := func(c Check) bool {
		// node-3's proxy is down; only node-1 has a local endpoint of "local".
		return c == Check{IP: n3.IP, Port: 10256, Path: "/healthz"} || c == Check{IP: n3.IP, Port: 31000, Path: "/"}
	}
	got := Routes([]Balancer{cluster, local}, nodes, 10256, failed)
	want := map[netip.Addr][]netip.Addr{
		ip("10.89.0.200"): {n1.IP}, // node-2 not Ready, node-3 fails /healthz, node-4 has no address
		ip("10.89.0.201"): {n1.IP},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes = %v, want %v", got, want)
	}
}

func TestRoutesFailOpenAndNeedACandidate(t *testing.T) {
	nodes := map[string]NodeState{"node-1": n1, "node-2": n2}
	all := Balancer{Addr: ip("10.89.0.200"), Nodes: []string{"node-2", "node-1"}, HealthCheckNodePort: 31000}
	none := Balancer{Addr: ip("10.89.0.201"), Nodes: nil}
	got := Routes([]Balancer{all, none}, nodes, 10256, func(Check) bool { return true })
	want := map[netip.Addr][]netip.Addr{ip("10.89.0.200"): {n1.IP, n2.IP}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes = %v, want %v (every check failed: all candidates, sorted; no node: no route)", got, want)
	}
}

func TestChecksUnderEachPolicy(t *testing.T) {
	nodes := map[string]NodeState{"node-1": n1, "node-2": n2}
	bs := []Balancer{
		{Addr: ip("10.89.0.200"), Nodes: []string{"node-1", "node-2"}},
		{Addr: ip("10.89.0.202"), Nodes: []string{"node-2"}},
		{Addr: ip("10.89.0.201"), Nodes: []string{"node-1"}, HealthCheckNodePort: 31000},
	}
	got := Checks(bs, nodes, 10256)
	want := []Check{{n1.IP, 10256, "/healthz"}, {n1.IP, 31000, "/"}, {n2.IP, 10256, "/healthz"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("checks = %v, want %v", got, want)
	}
	if u := want[1].URL(); u != "http://10.89.0.21:31000/" {
		t.Errorf("URL = %s", u)
	}
}
