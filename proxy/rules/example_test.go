package rules_test

import (
	"fmt"
	"net/netip"
	"strings"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kinns/kinns/proxy/rules"
)

// A Service with two ready pods and one that is not: its ClusterIP is
// DNATed to the two, half of the new connections each.
func Example() {
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: v1.ServiceSpec{
			ClusterIPs: []string{"10.96.0.10"},
			Ports:      []v1.ServicePort{{Name: "http", Protocol: v1.ProtocolTCP, Port: 80}},
		},
	}
	portName, proto, port := "http", v1.ProtocolTCP, int32(8080)
	yes, no := true, false
	eps := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "default", Name: "web-x7k2p",
			Labels: map[string]string{discoveryv1.LabelServiceName: "web"},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Protocol: &proto, Port: &port}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.244.1.5"}, Conditions: discoveryv1.EndpointConditions{Ready: &yes}},
			{Addresses: []string{"10.244.2.6"}}, // no conditions: ready
			{Addresses: []string{"10.244.2.7"}, Conditions: discoveryv1.EndpointConditions{Ready: &no}},
		},
	}
	out := rules.Render(rules.Config{
		NodeName:    "node-1",
		NodeIPs:     []netip.Addr{netip.MustParseAddr("10.89.0.21")},
		ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"),
	}, []*v1.Service{svc}, []*discoveryv1.EndpointSlice{eps}, rules.Existing{})

	for _, line := range strings.Split(string(out.Text), "\n") {
		if strings.Contains(line, "statistic") || strings.Contains(line, "DNAT") {
			fmt.Println(line)
		}
	}
	fmt.Println(out.Chains, "chains,", out.Rules, "rules")
	// Output:
	// -A KINNS-SVC-PK5WNJDG7QFFBAYH -m comment --comment "default/web:http -> 10.244.1.5:8080" -m statistic --mode random --probability 0.5000000000 -j KINNS-SEP-AQF7ZAE5PZCADH2L
	// -A KINNS-SEP-AQF7ZAE5PZCADH2L -m comment --comment "default/web:http" -p tcp -m tcp -j DNAT --to-destination 10.244.1.5:8080
	// -A KINNS-SEP-IGQLN7T7TYCQPXIT -m comment --comment "default/web:http" -p tcp -m tcp -j DNAT --to-destination 10.244.2.6:8080
	// 10 chains, 15 rules
}
