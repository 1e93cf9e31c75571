package rules

import (
	"net/netip"
	"slices"
)

// dest is one address and port where outside traffic for a service port
// arrives: a NodePort on a node address, an external IP, an LB IP.
type dest struct {
	ip   netip.Addr
	port uint16
}

func (d dest) match(proto string) []string { return slices.Concat(dst(d.ip), dport(proto, d.port)) }

// externalDests lists every outside destination of the port.
func (w *portWriter) externalDests() []dest {
	p := w.p
	var out []dest
	if p.nodePort > 0 {
		for _, ip := range w.cfg.NodeIPs {
			out = append(out, dest{ip, p.nodePort})
		}
	}
	for _, ip := range slices.Concat(p.externalIPs, p.lbIPs) {
		out = append(out, dest{ip, p.port})
	}
	return out
}

// externalRules catches traffic for the port's outside destinations and
// sends it to the port's EXT chain, or refuses it in the filter table
// where the nat table has nowhere to send it.
func (w *portWriter) externalRules() {
	p := w.p
	dests := w.externalDests()
	if len(dests) == 0 {
		return
	}
	if len(p.cluster) == 0 {
		for _, d := range dests {
			w.filter.add(chainExternalServices, comment(p.name+" has no endpoints"), d.match(p.proto), reject)
		}
		return
	}
	w.externalEntry()
	w.extChain()
	// Traffic that the nat rules left alone is still addressed to the
	// destination; drop it rather than let it reach the node's own sockets.
	if p.externalLocal && len(p.local) == 0 {
		for _, d := range dests {
			w.filter.add(chainExternalServices, comment(p.name+" has no local endpoints"), d.match(p.proto), jump("DROP"))
		}
	}
	if len(p.lbIPs) > 0 && len(p.sourceRanges) > 0 {
		w.firewallChain()
	}
}

// externalEntry sends each outside destination to the EXT chain; LB IPs
// with loadBalancerSourceRanges go through the FW chain first.
func (w *portWriter) externalEntry() {
	p := w.p
	if p.nodePort > 0 && len(w.cfg.NodeIPs) > 0 {
		w.nat.add(chainNodePorts, comment(p.name), dport(p.proto, p.nodePort), jump(p.extChain))
	}
	for _, ip := range p.externalIPs {
		w.nat.add(chainServices, comment(p.name+" external IP"), dst(ip), dport(p.proto, p.port), jump(p.extChain))
	}
	lbTarget := p.extChain
	if len(p.sourceRanges) > 0 {
		lbTarget = p.fwChain
	}
	for _, ip := range p.lbIPs {
		w.nat.add(chainServices, comment(p.name+" loadbalancer IP"), dst(ip), dport(p.proto, p.port), jump(lbTarget))
	}
}

// extChain renders the EXT chain. With externalTrafficPolicy Cluster all
// outside traffic is masqueraded and spread over every endpoint. With
// Local, outside clients keep their source address and reach only this
// node's endpoints; pods and the node itself are not outside clients and
// are handled as for the ClusterIP, masqueraded because the destination
// they used may be another node's address, which the endpoint would not
// answer through.
func (w *portWriter) extChain() {
	p := w.p
	w.nat.declare(p.extChain)
	if !p.externalLocal {
		w.nat.add(p.extChain, comment("masquerade traffic for "+p.name+" external destinations"), jump(chainMarkMasq))
		w.nat.add(p.extChain, w.to(p.svcChain))
		return
	}
	if internal, eps := w.internalChain(); len(eps) > 0 {
		if w.cfg.ClusterCIDR.IsValid() {
			pods := fromPods(w.cfg.ClusterCIDR, false)
			w.nat.add(p.extChain, comment("pod traffic for "+p.name+" external destinations"), pods, jump(chainMarkMasq))
			w.nat.add(p.extChain, comment("pod traffic for "+p.name+" external destinations"), pods, w.to(internal))
		}
		local := []string{"-m", "addrtype", "--src-type", "LOCAL"}
		w.nat.add(p.extChain, comment("masquerade LOCAL traffic for "+p.name+" external destinations"), local, jump(chainMarkMasq))
		w.nat.add(p.extChain, comment("route LOCAL traffic for "+p.name+" external destinations"), local, w.to(internal))
	}
	if len(p.local) > 0 {
		w.nat.add(p.extChain, comment(p.name+" local endpoints"), w.to(p.svlChain))
	}
}

// firewallChain lets LB traffic from loadBalancerSourceRanges through to
// the EXT chain. The rest is not DNATed, so it still has the LB IP as
// destination when the filter rules drop it.
func (w *portWriter) firewallChain() {
	p := w.p
	for _, r := range p.sourceRanges {
		w.nat.add(p.fwChain, comment(p.name+" loadbalancer IP"), []string{"-s", r.String()}, jump(p.extChain))
	}
	for _, ip := range p.lbIPs {
		w.filter.add(chainExternalServices, comment(p.name+" source not in loadBalancerSourceRanges"),
			dst(ip), dport(p.proto, p.port), jump("DROP"))
	}
}
