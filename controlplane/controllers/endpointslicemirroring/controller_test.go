package endpointslicemirroring

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/internal/fakeapi"
)

// TestCustomEndpointsAreMirrored: the Endpoints a user writes for a
// Service without a selector become an EndpointSlice of that Service.
func TestCustomEndpointsAreMirrored(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "pg", Port: 5432}}}}
	eps := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.89.0.100"}},
			Ports: []corev1.EndpointPort{{Name: "pg", Port: 5432, Protocol: corev1.ProtocolTCP}}}}}
	client := fakeapi.Client(svc, eps)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(deps.Deps{Client: client, Factory: factory}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fakeapi.Run(t, factory, c, 1)
	fakeapi.Eventually(t, "a mirrored EndpointSlice for db", func(ctx context.Context) bool {
		l, _ := client.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{})
		for _, s := range l.Items {
			if s.Labels[discoveryv1.LabelServiceName] == "db" && len(s.Endpoints) == 1 && s.Endpoints[0].Addresses[0] == "10.89.0.100" {
				return true
			}
		}
		return false
	})
}
