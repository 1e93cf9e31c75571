package rules_test

import (
	"net/netip"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kinns/kinns/proxy/rules"
)

// The test node: node-1 of a lab whose nodes are on 10.89.0.0/24 and whose
// pods are on 10.244.0.0/16, 10.244.1.0/24 on this node (cni0 10.244.1.1)
// and 10.244.2.0/24 on node-2.
var (
	nodeIP   = netip.MustParseAddr("10.89.0.21")
	cni0IP   = netip.MustParseAddr("10.244.1.1")
	testNode = rules.Config{
		NodeName:    "node-1",
		NodeIPs:     []netip.Addr{nodeIP},
		ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"),
	}
)

type svcOpt func(*v1.Service)

func service(name, clusterIP string, ports []v1.ServicePort, opts ...svcOpt) *v1.Service {
	s := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: v1.ServiceSpec{
			Type: v1.ServiceTypeClusterIP, ClusterIP: clusterIP, ClusterIPs: []string{clusterIP}, Ports: ports,
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func port(name string, proto v1.Protocol, p, nodePort int32) v1.ServicePort {
	return v1.ServicePort{Name: name, Protocol: proto, Port: p, NodePort: nodePort}
}

func tcp(name string, p int32) []v1.ServicePort {
	return []v1.ServicePort{port(name, v1.ProtocolTCP, p, 0)}
}

func inNamespace(ns string) svcOpt { return func(s *v1.Service) { s.Namespace = ns } }

func nodePortType(s *v1.Service) { s.Spec.Type = v1.ServiceTypeNodePort }

func externalLocal(healthCheckPort int32) svcOpt {
	return func(s *v1.Service) {
		s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
		s.Spec.HealthCheckNodePort = healthCheckPort
	}
}

func internalLocal(s *v1.Service) {
	p := v1.ServiceInternalTrafficPolicyLocal
	s.Spec.InternalTrafficPolicy = &p
}

func clientIPAffinity(seconds int32) svcOpt {
	return func(s *v1.Service) {
		s.Spec.SessionAffinity = v1.ServiceAffinityClientIP
		if seconds > 0 {
			s.Spec.SessionAffinityConfig = &v1.SessionAffinityConfig{ClientIP: &v1.ClientIPConfig{TimeoutSeconds: &seconds}}
		}
	}
}

func loadBalancer(ingress string, sourceRanges ...string) svcOpt {
	return func(s *v1.Service) {
		s.Spec.Type = v1.ServiceTypeLoadBalancer
		s.Spec.LoadBalancerSourceRanges = sourceRanges
		s.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: ingress}}
	}
}

func externalIPs(ips ...string) svcOpt { return func(s *v1.Service) { s.Spec.ExternalIPs = ips } }

type epOpt func(*discoveryv1.Endpoint)

func endpoint(ip, node string, opts ...epOpt) discoveryv1.Endpoint {
	e := discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: &node}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func notReady(e *discoveryv1.Endpoint) {
	e.Conditions.Ready = ptr(false)
	e.Conditions.Serving = ptr(false)
}

// terminating is a pod being deleted; serving tells whether it still
// passes its readiness probe.
func terminating(serving bool) epOpt {
	return func(e *discoveryv1.Endpoint) {
		e.Conditions = discoveryv1.EndpointConditions{Ready: ptr(false), Serving: ptr(serving), Terminating: ptr(true)}
	}
}

func slicePort(name string, proto v1.Protocol, p int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: &name, Protocol: &proto, Port: &p}
}

func slice(service, name string, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "default", Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: service},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       ports,
		Endpoints:   eps,
	}
}

func tcpSlice(service string, p int32, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return slice(service, service+"-abcde", []discoveryv1.EndpointPort{slicePort("http", v1.ProtocolTCP, p)}, eps...)
}

func ptr[T any](v T) *T { return &v }
