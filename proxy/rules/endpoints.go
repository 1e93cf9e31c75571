package rules

import (
	"net/netip"
	"slices"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// endpoint is one address:port behind a service port, with what the
// EndpointSlices say of it.
type endpoint struct {
	addr                        netip.AddrPort
	node                        string
	ready, serving, terminating bool
}

// indexSlices groups the IPv4 EndpointSlices by the Service they belong to.
// Slices of other address types cannot be used in an IPv4 table.
func indexSlices(all []*discoveryv1.EndpointSlice) map[types.NamespacedName][]*discoveryv1.EndpointSlice {
	index := make(map[types.NamespacedName][]*discoveryv1.EndpointSlice)
	for _, s := range all {
		name := s.Labels[discoveryv1.LabelServiceName]
		if name == "" || s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		key := types.NamespacedName{Namespace: s.Namespace, Name: name}
		index[key] = append(index[key], s)
	}
	return index
}

// endpointsFor returns the endpoints of the service port called name with
// protocol proto, one per address:port however many slices list it, sorted.
func endpointsFor(slices []*discoveryv1.EndpointSlice, name string, proto v1.Protocol) []endpoint {
	byAddr := make(map[netip.AddrPort]endpoint)
	for _, s := range slices {
		port, ok := slicePort(s, name, proto)
		if !ok {
			continue
		}
		for _, e := range s.Endpoints {
			if ep, ok := fromSlice(e, port); ok {
				byAddr[ep.addr] = merge(byAddr[ep.addr], ep)
			}
		}
	}
	return sortedEndpoints(byAddr)
}

// slicePort finds the port number a slice gives for the service port.
func slicePort(s *discoveryv1.EndpointSlice, name string, proto v1.Protocol) (uint16, bool) {
	for _, p := range s.Ports {
		pName, pProto := "", v1.ProtocolTCP
		if p.Name != nil {
			pName = *p.Name
		}
		if p.Protocol != nil {
			pProto = *p.Protocol
		}
		if pName == name && pProto == proto && p.Port != nil && *p.Port > 0 && *p.Port <= 65535 {
			return uint16(*p.Port), true
		}
	}
	return 0, false
}

// fromSlice reads one endpoint. Only the first address counts, as the
// EndpointSlice API says consumers must assume they are all the same.
func fromSlice(e discoveryv1.Endpoint, port uint16) (endpoint, bool) {
	if len(e.Addresses) == 0 {
		return endpoint{}, false
	}
	ip, err := netip.ParseAddr(e.Addresses[0])
	if err != nil || !ip.Is4() {
		return endpoint{}, false
	}
	ready := e.Conditions.Ready == nil || *e.Conditions.Ready
	ep := endpoint{
		addr:        netip.AddrPortFrom(ip, port),
		ready:       ready,
		serving:     ready, // the API says: unknown serving means as ready
		terminating: e.Conditions.Terminating != nil && *e.Conditions.Terminating,
	}
	if e.Conditions.Serving != nil {
		ep.serving = *e.Conditions.Serving
	}
	if e.NodeName != nil {
		ep.node = *e.NodeName
	}
	return ep, true
}

// merge combines two listings of one address:port (two slices during a
// rollout of the EndpointSlice controller) so that the result does not
// depend on the order of the slices: usable if either says so.
func merge(old, ep endpoint) endpoint {
	if !old.addr.IsValid() {
		return ep
	}
	old.ready = old.ready || ep.ready
	old.serving = old.serving || ep.serving
	old.terminating = old.terminating && ep.terminating
	if old.node == "" || (ep.node != "" && ep.node < old.node) {
		old.node = ep.node
	}
	return old
}

func sortedEndpoints(byAddr map[netip.AddrPort]endpoint) []endpoint {
	eps := make([]endpoint, 0, len(byAddr))
	for _, ep := range byAddr {
		eps = append(eps, ep)
	}
	slices.SortFunc(eps, func(a, b endpoint) int { return a.addr.Compare(b.addr) })
	return eps
}

// usable picks where new connections go: the ready endpoints or, when
// there are none, those still serving while they terminate, so that a
// rolling update of the last pods does not refuse connections.
func usable(eps []endpoint) []endpoint {
	ready := filter(eps, func(ep endpoint) bool { return ep.ready })
	if len(ready) > 0 {
		return ready
	}
	return filter(eps, func(ep endpoint) bool { return ep.serving && ep.terminating })
}

func onNode(eps []endpoint, node string) []endpoint {
	return filter(eps, func(ep endpoint) bool { return node != "" && ep.node == node })
}

func filter(eps []endpoint, keep func(endpoint) bool) []endpoint {
	var out []endpoint
	for _, ep := range eps {
		if keep(ep) {
			out = append(out, ep)
		}
	}
	return out
}
