package rules

import (
	"bytes"
	"net/netip"
	"slices"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// renderer holds one rendering in progress.
type renderer struct {
	cfg         Config
	filter, nat *table
	out         Output
}

// Render computes the node's whole Service rule set from the Services and
// EndpointSlices the proxy sees, and the chains that exist now. It is a
// pure function: the same inputs, in any order, give the same bytes.
//
// Services it cannot serve are skipped rather than failing the rest:
// ExternalName and headless Services, IPv6-only ones, ports of an unknown
// protocol, and addresses that do not parse.
func Render(cfg Config, services []*v1.Service, endpointSlices []*discoveryv1.EndpointSlice, existing Existing) Output {
	cfg.NodeIPs = ipv4Only(cfg.NodeIPs)
	r := &renderer{
		cfg:    cfg,
		filter: newTable("filter", chainServices, chainExternalServices, chainForward),
		nat:    newTable("nat", chainServices, chainNodePorts, chainPostrouting, chainMarkMasq),
		out:    Output{HealthChecks: make(map[int32]HealthCheck)},
	}
	r.writeStatic()
	for _, p := range plan(cfg, services, endpointSlices) {
		r.writePort(p)
	}
	r.writeNodePortJumps()
	return r.finish(existing)
}

// writeStatic fills the top-level chains that do not depend on Services:
// marking for masquerade, masquerading marked packets once, and letting
// marked or established traffic through a FORWARD policy of DROP.
func (r *renderer) writeStatic() {
	r.nat.add(chainMarkMasq, []string{"-j", "MARK", "--or-mark", masqMark})
	r.nat.add(chainPostrouting, []string{"-m", "mark", "!", "--mark", masqMark + "/" + masqMark}, jump("RETURN"))
	// Clear the bit so that a packet going through POSTROUTING again (an
	// encapsulation, a second namespace) is not masqueraded twice.
	r.nat.add(chainPostrouting, []string{"-j", "MARK", "--xor-mark", masqMark})
	r.nat.add(chainPostrouting, comment("kinns service traffic requiring SNAT"), []string{"-j", "MASQUERADE", "--random-fully"})
	r.filter.add(chainForward, comment("kinns forwarding rules"),
		[]string{"-m", "mark", "--mark", masqMark + "/" + masqMark}, jump("ACCEPT"))
	r.filter.add(chainForward, comment("kinns forwarding conntrack rule"),
		[]string{"-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"}, jump("ACCEPT"))
}

// writeNodePortJumps sends traffic for the node's own addresses to the
// NodePorts. It comes last in KINNS-SERVICES so that a ClusterIP or
// external IP rule always wins over a NodePort with the same number.
func (r *renderer) writeNodePortJumps() {
	for _, ip := range r.cfg.NodeIPs {
		r.nat.add(chainServices, comment("kinns service nodeports"), dst(ip), jump(chainNodePorts))
	}
}

// finish writes both tables, deleting stale chains of ours, and counts.
func (r *renderer) finish(existing Existing) Output {
	var b bytes.Buffer
	r.out.Rules += r.filter.write(&b, r.filter.stale(existing.Filter))
	r.out.Rules += r.nat.write(&b, r.nat.stale(existing.NAT))
	r.out.Chains = len(r.filter.chains) + len(r.nat.chains)
	r.out.Text = b.Bytes()
	slices.SortFunc(r.out.TCPEndpoints, netip.AddrPort.Compare)
	r.out.TCPEndpoints = slices.Compact(r.out.TCPEndpoints)
	slices.SortFunc(r.out.TCPServices, netip.AddrPort.Compare)
	r.out.TCPServices = slices.Compact(r.out.TCPServices)
	return r.out
}

func ipv4Only(ips []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			out = append(out, ip.Unmap())
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}
