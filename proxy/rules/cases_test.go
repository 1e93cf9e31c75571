package rules_test

import (
	"slices"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/kinns/kinns/proxy/rules"
)

// renderCase is one rendering, kept as testdata/<name>.golden.
type renderCase struct {
	name     string
	cfg      rules.Config
	services []*v1.Service
	slices   []*discoveryv1.EndpointSlice
	existing rules.Existing
}

// webEndpoints are three pods behind port 8080: one on this node, two on
// node-2.
func webEndpoints() []discoveryv1.Endpoint {
	return []discoveryv1.Endpoint{
		endpoint("10.244.1.5", "node-1"), endpoint("10.244.2.6", "node-2"), endpoint("10.244.2.7", "node-2"),
	}
}

func remoteEndpoints() []discoveryv1.Endpoint {
	return []discoveryv1.Endpoint{endpoint("10.244.2.6", "node-2"), endpoint("10.244.2.7", "node-2")}
}

func nodePortHTTP(nodePort int32) []v1.ServicePort {
	return []v1.ServicePort{port("http", v1.ProtocolTCP, 80, nodePort)}
}

// renderCases is every golden case.
func renderCases() []renderCase {
	return slices.Concat(clusterIPCases(), externalCases(), []renderCase{skippedCase(), staleCase()})
}

// clusterIPCases are about ClusterIP traffic and endpoint selection.
func clusterIPCases() []renderCase {
	return []renderCase{
		{name: "empty"},
		{
			name:     "clusterip-three-endpoints",
			services: []*v1.Service{service("web", "10.96.0.10", tcp("http", 80))},
			slices:   []*discoveryv1.EndpointSlice{tcpSlice("web", 8080, webEndpoints()...)},
		},
		{
			name:     "udp",
			services: []*v1.Service{service("dns", "10.96.0.53", []v1.ServicePort{port("dns", v1.ProtocolUDP, 53, 0)})},
			slices: []*discoveryv1.EndpointSlice{slice("dns", "dns-1", []discoveryv1.EndpointPort{slicePort("dns", v1.ProtocolUDP, 5353)},
				endpoint("10.244.1.9", "node-1"), endpoint("10.244.2.9", "node-2"))},
		},
		multiPortCase(),
		{
			name:     "no-endpoints",
			services: []*v1.Service{service("web", "10.96.0.10", nodePortHTTP(30080), nodePortType)},
			slices:   []*discoveryv1.EndpointSlice{tcpSlice("web", 8080)},
		},
		{
			name:     "not-ready-excluded",
			services: []*v1.Service{service("web", "10.96.0.10", tcp("http", 80))},
			slices: []*discoveryv1.EndpointSlice{tcpSlice("web", 8080,
				endpoint("10.244.1.5", "node-1", notReady), endpoint("10.244.2.6", "node-2"))},
		},
		{
			name:     "terminating-serving-fallback",
			services: []*v1.Service{service("web", "10.96.0.10", tcp("http", 80))},
			slices: []*discoveryv1.EndpointSlice{tcpSlice("web", 8080,
				endpoint("10.244.1.5", "node-1", terminating(true)), endpoint("10.244.2.6", "node-2", terminating(false)),
				endpoint("10.244.2.7", "node-2", notReady))},
		},
		{
			name: "internal-local",
			services: []*v1.Service{
				service("web", "10.96.0.10", tcp("http", 80), internalLocal),
				service("remote", "10.96.0.11", tcp("http", 80), internalLocal),
			},
			slices: []*discoveryv1.EndpointSlice{
				tcpSlice("web", 8080, webEndpoints()...), tcpSlice("remote", 8080, remoteEndpoints()...),
			},
		},
		{
			name:     "session-affinity",
			services: []*v1.Service{service("web", "10.96.0.10", tcp("http", 80), clientIPAffinity(600))},
			slices:   []*discoveryv1.EndpointSlice{tcpSlice("web", 8080, remoteEndpoints()...)},
		},
	}
}

// externalCases are about NodePorts, external IPs and load balancers.
func externalCases() []renderCase {
	return []renderCase{
		{
			name:     "nodeport-cluster",
			services: []*v1.Service{service("web", "10.96.0.10", nodePortHTTP(30080), nodePortType)},
			slices:   []*discoveryv1.EndpointSlice{tcpSlice("web", 8080, webEndpoints()...)},
		},
		{
			name:     "nodeport-local",
			services: []*v1.Service{service("web", "10.96.0.10", nodePortHTTP(30080), nodePortType, externalLocal(31000))},
			slices:   []*discoveryv1.EndpointSlice{tcpSlice("web", 8080, webEndpoints()...)},
		},
		{
			name:     "nodeport-local-no-local-endpoints",
			services: []*v1.Service{service("web", "10.96.0.10", nodePortHTTP(30080), nodePortType, externalLocal(31000))},
			slices:   []*discoveryv1.EndpointSlice{tcpSlice("web", 8080, remoteEndpoints()...)},
		},
		{
			name:     "loadbalancer",
			services: []*v1.Service{service("web", "10.96.0.10", nodePortHTTP(30080), loadBalancer("192.0.2.10"))},
			slices:   []*discoveryv1.EndpointSlice{tcpSlice("web", 8080, webEndpoints()...)},
		},
		{
			name: "loadbalancer-source-ranges",
			services: []*v1.Service{service("web", "10.96.0.10", nodePortHTTP(30080),
				loadBalancer("192.0.2.10", "203.0.113.0/24", "10.89.0.0/24"))},
			slices: []*discoveryv1.EndpointSlice{tcpSlice("web", 8080, webEndpoints()...)},
		},
		{
			name:     "external-ips",
			services: []*v1.Service{service("web", "10.96.0.10", tcp("http", 80), externalIPs("10.89.0.50"))},
			slices:   []*discoveryv1.EndpointSlice{tcpSlice("web", 8080, webEndpoints()...)},
		},
	}
}

// staleCase has chains of ours from an earlier rendering, and chains of
// others that must be left alone.
func staleCase() renderCase {
	return renderCase{
		name:     "stale-chains",
		services: []*v1.Service{service("web", "10.96.0.10", tcp("http", 80))},
		slices:   []*discoveryv1.EndpointSlice{tcpSlice("web", 8080, remoteEndpoints()...)},
		existing: rules.Existing{
			Filter: []string{"INPUT", "KINNS-SERVICES", "KINNS-NODEPORTS", "DOCKER-USER"},
			NAT:    []string{"KINNS-SVC-OLDOLDOLDOLDOLDO", "PREROUTING", "KINNS-SERVICES", "KUBE-SERVICES", "KINNS-SEP-GONEGONEGONEGONE"},
		},
	}
}

// multiPortCase is one Service with http and metrics, listed in the order
// opposite to the rendering's, each with its own endpoint port.
func multiPortCase() renderCase {
	ports := []v1.ServicePort{port("metrics", v1.ProtocolTCP, 9090, 0), port("http", v1.ProtocolTCP, 80, 0)}
	return renderCase{
		name:     "multi-port",
		services: []*v1.Service{service("web", "10.96.0.10", ports)},
		slices: []*discoveryv1.EndpointSlice{slice("web", "web-1",
			[]discoveryv1.EndpointPort{slicePort("http", v1.ProtocolTCP, 8080), slicePort("metrics", v1.ProtocolTCP, 9100)},
			endpoint("10.244.1.5", "node-1"), endpoint("10.244.2.6", "node-2"))},
	}
}

// skippedCase has nothing the proxy serves: a headless Service, an
// ExternalName one, an IPv6-only one, and an IPv6 slice.
func skippedCase() renderCase {
	headless := service("headless", "None", tcp("http", 80))
	external := service("ext", "", tcp("http", 80))
	external.Spec.Type = v1.ServiceTypeExternalName
	external.Spec.ExternalName = "example.org"
	v6 := service("v6", "fd00::10", tcp("http", 80))
	v6Slice := tcpSlice("v6", 8080, endpoint("fd00::1:5", "node-1"))
	v6Slice.AddressType = discoveryv1.AddressTypeIPv6
	return renderCase{
		name:     "skipped",
		services: []*v1.Service{headless, external, v6},
		slices:   []*discoveryv1.EndpointSlice{tcpSlice("headless", 8080, webEndpoints()...), v6Slice},
	}
}
