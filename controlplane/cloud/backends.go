package cloud

import (
	"net/netip"
	"slices"
	"strconv"
)

// Balancer is one load balancer of the fabric: a Service's address and
// what decides the nodes it is routed to.
type Balancer struct {
	// Key is the Service's namespace/name.
	Key  string
	Addr netip.Addr
	// Nodes are the names of the nodes the service controller offers it
	// (not being deleted, not excluded from load balancers).
	Nodes []string
	// HealthCheckNodePort is the Service's health check node port under
	// externalTrafficPolicy Local, 0 under Cluster.
	HealthCheckNodePort int32
}

// NodeState is what the route decision knows of a node.
type NodeState struct {
	IP    netip.Addr // its fabric address (InternalIP)
	Ready bool
}

// Check is one health check of a node, as a cloud load balancer makes it:
// an HTTP GET that passes with 200.
type Check struct {
	IP   netip.Addr
	Port int
	Path string
}

// URL is the check's address.
func (c Check) URL() string {
	return "http://" + netip.AddrPortFrom(c.IP, uint16(c.Port)).String() + c.Path
}

func (c Check) String() string { return c.IP.String() + ":" + strconv.Itoa(c.Port) + c.Path }

// check is how b checks node n: the Service's health check node port under
// Local (200 only where the node has a ready local endpoint), the node's
// proxy /healthz under Cluster (any node with working rules forwards).
func (b Balancer) check(n NodeState, healthPort int) Check {
	if b.HealthCheckNodePort != 0 {
		return Check{IP: n.IP, Port: int(b.HealthCheckNodePort), Path: "/"}
	}
	return Check{IP: n.IP, Port: healthPort, Path: "/healthz"}
}

// candidates are the nodes b may be routed to: offered, known, Ready and
// with a fabric address.
func (b Balancer) candidates(nodes map[string]NodeState) []NodeState {
	var out []NodeState
	for _, name := range b.Nodes {
		if n, ok := nodes[name]; ok && n.Ready && n.IP.IsValid() {
			out = append(out, n)
		}
	}
	return out
}

// Checks lists the health checks the balancers need now, each once.
func Checks(bs []Balancer, nodes map[string]NodeState, healthPort int) []Check {
	var out []Check
	for _, b := range bs {
		for _, n := range b.candidates(nodes) {
			out = append(out, b.check(n, healthPort))
		}
	}
	slices.SortFunc(out, compareChecks)
	return slices.Compact(out)
}

func compareChecks(a, b Check) int {
	if c := a.IP.Compare(b.IP); c != 0 {
		return c
	}
	if a.Port != b.Port {
		return a.Port - b.Port
	}
	if a.Path < b.Path {
		return -1
	}
	if a.Path > b.Path {
		return 1
	}
	return 0
}

// Routes decides where the fabric sends each balancer's address: to the
// fabric addresses of its candidate nodes whose check has not failed or,
// when every one has failed, to all of them (as a cloud load balancer
// fails open: a node that answers is better than none). A balancer with no
// candidate gets no route. Next hops are sorted, so equal decisions are
// equal slices.
func Routes(bs []Balancer, nodes map[string]NodeState, healthPort int, failed func(Check) bool) map[netip.Addr][]netip.Addr {
	out := map[netip.Addr][]netip.Addr{}
	for _, b := range bs {
		cands := b.candidates(nodes)
		var hops []netip.Addr
		for _, n := range cands {
			if !failed(b.check(n, healthPort)) {
				hops = append(hops, n.IP)
			}
		}
		if len(hops) == 0 {
			for _, n := range cands {
				hops = append(hops, n.IP)
			}
		}
		if len(hops) == 0 {
			continue
		}
		slices.SortFunc(hops, netip.Addr.Compare)
		out[b.Addr] = slices.Compact(hops)
	}
	return out
}
