package rules

import (
	"net/netip"
	"slices"
)

// portWriter renders one service port. It remembers which balancing
// chains the entry rules jump to, so that only those are rendered.
type portWriter struct {
	*renderer
	p    *servicePort
	used map[string]bool
}

var reject = []string{"-j", "REJECT", "--reject-with", "icmp-port-unreachable"}

// writePort renders how the port's traffic is caught (ClusterIPs, then
// NodePorts and external addresses), the chains that balance it, and one
// chain per endpoint; then it records the port for the proxy's conntrack
// cleanup and health checks.
func (r *renderer) writePort(p *servicePort) {
	w := &portWriter{renderer: r, p: p, used: make(map[string]bool)}
	w.clusterIPRules()
	w.externalRules()
	eps := w.balanceChains()
	w.record(eps)
}

// to jumps to a balancing chain and marks it as used.
func (w *portWriter) to(chain string) []string {
	w.used[chain] = true
	return jump(chain)
}

// internalChain is where traffic from inside the cluster goes: pods and
// the node itself using the ClusterIP. internalTrafficPolicy Local keeps
// it on this node.
func (w *portWriter) internalChain() (string, []endpoint) {
	if w.p.internalLocal {
		return w.p.svlChain, w.p.local
	}
	return w.p.svcChain, w.p.cluster
}

// clusterIPRules sends ClusterIP traffic to the internal chain. A port
// without endpoints is rejected so that clients fail at once instead of
// waiting for a timeout; one whose endpoints are all on other nodes while
// internalTrafficPolicy is Local is dropped, as Kubernetes specifies. The
// nat table cannot do either, hence the filter rules.
func (w *portWriter) clusterIPRules() {
	p := w.p
	internal, eps := w.internalChain()
	for _, ip := range p.clusterIPs {
		match := slices.Concat(dst(ip), dport(p.proto, p.port))
		switch {
		case len(p.cluster) == 0:
			w.filter.add(chainServices, comment(p.name+" has no endpoints"), match, reject)
		case len(eps) == 0:
			w.filter.add(chainServices, comment(p.name+" has no local endpoints"), match, jump("DROP"))
		default:
			w.nat.add(chainServices, comment(p.name+" cluster IP"), match, w.to(internal))
		}
	}
}

// balanceChains renders the used balancing chains and returns the
// endpoints they lead to, whose chains it renders too.
func (w *portWriter) balanceChains() []endpoint {
	internal, _ := w.internalChain()
	var used []endpoint
	for _, c := range []struct {
		name string
		eps  []endpoint
	}{{w.p.svcChain, w.p.cluster}, {w.p.svlChain, w.p.local}} {
		if !w.used[c.name] {
			continue
		}
		if c.name == internal {
			w.masqueradeOutsiders(c.name)
		}
		w.balance(c.name, c.eps)
		used = append(used, c.eps...)
	}
	slices.SortFunc(used, func(a, b endpoint) int { return a.addr.Compare(b.addr) })
	used = slices.CompactFunc(used, func(a, b endpoint) bool { return a.addr == b.addr })
	for _, ep := range used {
		w.endpointChain(ep)
	}
	return used
}

// masqueradeOutsiders marks ClusterIP traffic from outside the pod network
// (the node itself, a host routing through it): the endpoint may be on
// another node, which would answer straight to the client, bypassing the
// reverse NAT here.
func (w *portWriter) masqueradeOutsiders(chain string) {
	p := w.p
	for _, ip := range p.clusterIPs {
		w.nat.add(chain, comment(p.name+" cluster IP"), fromPods(w.cfg.ClusterCIDR, true),
			dst(ip), dport(p.proto, p.port), jump(chainMarkMasq))
	}
}

// record tells the proxy what it must do outside iptables for this port.
func (w *portWriter) record(used []endpoint) {
	p := w.p
	if p.proto == "udp" {
		u := UDPService{ClusterIPs: slices.Clone(p.clusterIPs), Port: int32(p.port), NodePort: int32(p.nodePort)}
		for _, ep := range used {
			u.Endpoints = append(u.Endpoints, ep.addr)
		}
		w.out.UDP = append(w.out.UDP, u)
	}
	if p.proto == "tcp" {
		for _, ep := range used {
			w.out.TCPEndpoints = append(w.out.TCPEndpoints, ep.addr)
		}
		if _, eps := w.internalChain(); len(eps) > 0 {
			for _, ip := range p.clusterIPs {
				w.out.TCPServices = append(w.out.TCPServices, netip.AddrPortFrom(ip, p.port))
			}
		}
	}
	if p.externalLocal && p.healthCheckPort > 0 {
		hc := w.out.HealthChecks[p.healthCheckPort]
		hc.Service = p.svc
		hc.LocalEndpoints = max(hc.LocalEndpoints, p.localReady)
		w.out.HealthChecks[p.healthCheckPort] = hc
	}
}
