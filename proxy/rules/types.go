package rules

import (
	"net/netip"

	"k8s.io/apimachinery/pkg/types"
)

// Config is what the renderer knows of its node.
type Config struct {
	// NodeName decides which endpoints are local: those whose
	// EndpointSlice nodeName equals it.
	NodeName string
	// NodeIPs are the node's own addresses NodePorts answer on (e.g.
	// 10.89.0.21). With none, no NodePort is served.
	NodeIPs []netip.Addr
	// ClusterCIDR is the pod network (e.g. 10.244.0.0/16). ClusterIP traffic
	// from outside it is masqueraded, so that replies come back through this
	// node. The zero Prefix means unknown: then all ClusterIP traffic is
	// masqueraded, which always works but hides pod addresses.
	ClusterCIDR netip.Prefix
}

// Existing is the chains that exist now in each table, as the proxy reads
// them from iptables-save, so that Render can delete the stale ones of ours.
// Chains without our prefix are never touched.
type Existing struct{ Filter, NAT []string }

// Output is one rendering of the node's Service rules.
type Output struct {
	// Text is the input for a plain `iptables-restore --noflush`: a filter
	// and a nat section, each ending in COMMIT. It declares (and so
	// flushes) every chain of ours it fills and deletes the stale ones.
	Text []byte
	// Rules is the number of -A rules in Text, for metrics.
	Rules int
	// Chains is the number of chains of ours in Text, not counting the
	// stale ones it deletes.
	Chains int
	// HealthChecks has an entry for every Service with
	// externalTrafficPolicy Local and a healthCheckNodePort, keyed by that
	// port: the proxy answers there whether this node has local endpoints.
	HealthChecks map[int32]HealthCheck
	// UDP lists every UDP service port with a ClusterIP, in render order,
	// with the endpoints its rules use now (possibly none), so the proxy can
	// clear conntrack entries that still point at endpoints that are gone
	// or that were made while the port had none.
	UDP []UDPService
	// TCPEndpoints lists every endpoint the rules send TCP traffic to,
	// sorted, so the proxy can clear the unanswered connection attempts
	// left in conntrack to one that is gone (see the proxy's sync).
	TCPEndpoints []netip.AddrPort
	// TCPServices lists every ClusterIP:port whose TCP traffic the rules
	// DNAT to an endpoint, sorted, so the proxy can clear the unanswered
	// attempts to it that no rule DNATed (made while its rules were
	// missing).
	TCPServices []netip.AddrPort
}

// HealthCheck is what the health check node port of a Service with
// externalTrafficPolicy Local reports.
type HealthCheck struct {
	Service types.NamespacedName
	// LocalEndpoints is the largest number of ready endpoints on this node
	// over the Service's ports. Terminating endpoints do not count even
	// when they still serve: the load balancer should stop sending new
	// connections to a node whose pods are all going away.
	LocalEndpoints int
}

// UDPService is one UDP service port and the endpoints its rules use.
type UDPService struct {
	ClusterIPs []netip.Addr
	Port       int32
	// NodePort is 0 when the port has none.
	NodePort  int32
	Endpoints []netip.AddrPort
}

// Jump is a rule in a built-in chain that leads into ours. Restore with
// --noflush cannot add it idempotently, so the proxy ensures each exists
// once itself (iptables -C, then -I). Args are exec arguments: a comment
// with spaces is one element, unquoted.
type Jump struct {
	Table, Chain string
	Args         []string
}
