package rules

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// servicePort is everything the renderer needs to know of one port of a
// Service: where its traffic comes in and which endpoints may take it.
type servicePort struct {
	svc   types.NamespacedName
	name  string // "namespace/name:port", for comments
	proto string // tcp, udp or sctp
	port  uint16
	// nodePort is 0 when the port has none.
	nodePort uint16
	// healthCheckPort is the Service's healthCheckNodePort, 0 if none.
	healthCheckPort int32

	clusterIPs   []netip.Addr
	externalIPs  []netip.Addr
	lbIPs        []netip.Addr
	sourceRanges []netip.Prefix

	internalLocal, externalLocal bool
	// affinity is the ClientIP session affinity timeout in seconds, 0 for
	// no affinity.
	affinity int32

	// cluster and local are the endpoints new connections may go to,
	// cluster-wide and on this node. localReady counts the ready ones of
	// this node, for health checks.
	cluster, local []endpoint
	localReady     int

	// hashKey names the port in chain hashes; endpoint chains add the
	// endpoint's address to it.
	hashKey                               string
	svcChain, svlChain, extChain, fwChain string
}

// plan turns the Services into their ports, sorted by Service and port so
// that the rendering does not depend on the order of the informer caches.
func plan(cfg Config, services []*v1.Service, all []*discoveryv1.EndpointSlice) []*servicePort {
	sorted := slices.Clone(services)
	slices.SortFunc(sorted, func(a, b *v1.Service) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	index := indexSlices(all)
	var ports []*servicePort
	for _, svc := range sorted {
		ports = append(ports, planService(cfg, svc, index)...)
	}
	return ports
}

// planService returns nil for Services the proxy has nothing to do for:
// ExternalName, headless, and those without an IPv4 ClusterIP.
func planService(cfg Config, svc *v1.Service, index map[types.NamespacedName][]*discoveryv1.EndpointSlice) []*servicePort {
	clusterIPs := clusterIPv4s(svc)
	if svc.Spec.Type == v1.ServiceTypeExternalName || len(clusterIPs) == 0 {
		return nil
	}
	key := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	specs := slices.Clone(svc.Spec.Ports)
	slices.SortFunc(specs, func(a, b v1.ServicePort) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Protocol, b.Protocol))
	})
	var ports []*servicePort
	for _, sp := range specs {
		p, ok := newServicePort(svc, key, sp, clusterIPs)
		if !ok {
			continue
		}
		all := endpointsFor(index[key], sp.Name, protocolOf(sp))
		p.cluster = usable(all)
		p.local = usable(onNode(all, cfg.NodeName))
		p.localReady = len(filter(onNode(all, cfg.NodeName), func(ep endpoint) bool { return ep.ready }))
		ports = append(ports, p)
	}
	return ports
}

// newServicePort reads the Service's spec for one port; ok is false for a
// port the renderer cannot serve (an unknown protocol or a bad number).
func newServicePort(svc *v1.Service, key types.NamespacedName, sp v1.ServicePort, clusterIPs []netip.Addr) (*servicePort, bool) {
	proto := protocolOf(sp)
	if proto != v1.ProtocolTCP && proto != v1.ProtocolUDP && proto != v1.ProtocolSCTP {
		return nil, false
	}
	if sp.Port <= 0 || sp.Port > 65535 {
		return nil, false
	}
	hashKey := fmt.Sprintf("%s:%s/%s", key, sp.Name, proto)
	p := &servicePort{
		svc:           key,
		name:          portName(key, sp.Name),
		proto:         strings.ToLower(string(proto)),
		port:          uint16(sp.Port),
		clusterIPs:    clusterIPs,
		externalIPs:   parseIPv4s(svc.Spec.ExternalIPs),
		internalLocal: ptrEq(svc.Spec.InternalTrafficPolicy, v1.ServiceInternalTrafficPolicyLocal),
		externalLocal: svc.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal,
		affinity:      affinityTimeout(svc),
		hashKey:       hashKey,
		svcChain:      chainName(kindSVC, hashKey),
		svlChain:      chainName(kindSVL, hashKey),
		extChain:      chainName(kindEXT, hashKey),
		fwChain:       chainName(kindFW, hashKey),
	}
	if svc.Spec.Type == v1.ServiceTypeNodePort || svc.Spec.Type == v1.ServiceTypeLoadBalancer {
		if sp.NodePort > 0 && sp.NodePort <= 65535 {
			p.nodePort = uint16(sp.NodePort)
		}
		p.healthCheckPort = svc.Spec.HealthCheckNodePort
	}
	if svc.Spec.Type == v1.ServiceTypeLoadBalancer {
		p.lbIPs = ingressIPv4s(svc)
		p.sourceRanges = parsePrefixes(svc.Spec.LoadBalancerSourceRanges)
	}
	return p, true
}

func portName(key types.NamespacedName, port string) string {
	if port == "" {
		return key.String()
	}
	return key.String() + ":" + port
}

func protocolOf(sp v1.ServicePort) v1.Protocol {
	if sp.Protocol == "" {
		return v1.ProtocolTCP
	}
	return sp.Protocol
}

func ptrEq[T comparable](p *T, v T) bool { return p != nil && *p == v }

func affinityTimeout(svc *v1.Service) int32 {
	if svc.Spec.SessionAffinity != v1.ServiceAffinityClientIP {
		return 0
	}
	cfg := svc.Spec.SessionAffinityConfig
	if cfg != nil && cfg.ClientIP != nil && cfg.ClientIP.TimeoutSeconds != nil && *cfg.ClientIP.TimeoutSeconds > 0 {
		return *cfg.ClientIP.TimeoutSeconds
	}
	return v1.DefaultClientIPServiceAffinitySeconds
}

// clusterIPv4s reads spec.clusterIPs, or spec.clusterIP for objects
// written before dual-stack; "None" (headless) is not an address.
func clusterIPv4s(svc *v1.Service) []netip.Addr {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	return parseIPv4s(ips)
}

func ingressIPv4s(svc *v1.Service) []netip.Addr {
	var ips []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		ips = append(ips, in.IP)
	}
	return parseIPv4s(ips)
}

// parseIPv4s keeps the IPv4 addresses, sorted and once each; anything else
// (IPv6, "None", garbage the API server should have refused) is skipped.
func parseIPv4s(in []string) []netip.Addr {
	var out []netip.Addr
	for _, s := range in {
		if ip, err := netip.ParseAddr(s); err == nil && ip.Is4() {
			out = append(out, ip)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// parsePrefixes keeps the valid IPv4 ranges, sorted and once each.
func parsePrefixes(in []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range in {
		if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil && p.Addr().Is4() {
			out = append(out, p.Masked())
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
	})
	return slices.Compact(out)
}
