package dnsendpoints

import (
	"context"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
)

func TestSliceFollowsTheInstancesThatAnswer(t *testing.T) {
	client := fake.NewClientset()
	up := map[string]bool{"10.89.0.12": true, "10.89.0.13": true}
	c, err := New(deps.Deps{Client: client}, Options{
		Servers: []string{"10.89.0.12", "10.89.0.13"},
		Probe:   func(_ context.Context, ip string) bool { return up[ip] },
	})
	if err != nil {
		t.Fatal(err)
	}
	ready := func() []string {
		s, err := client.DiscoveryV1().EndpointSlices(Namespace).Get(context.Background(), SliceName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s.Labels["kubernetes.io/service-name"] != Service || s.Labels["endpointslice.kubernetes.io/managed-by"] != Manager {
			t.Errorf("labels %v", s.Labels)
		}
		return readyList(s)
	}
	step := func(want ...string) {
		t.Helper()
		if err := c.sync(context.Background(), c.probeAll(context.Background())); err != nil {
			t.Fatal(err)
		}
		if got := ready(); !slices.Equal(got, want) {
			t.Errorf("ready %v, want %v", got, want)
		}
	}
	step("10.89.0.12", "10.89.0.13")
	up["10.89.0.12"] = false
	step("10.89.0.13")
	writes := func() (n int) {
		for _, a := range client.Actions() {
			if a.GetVerb() != "get" {
				n++
			}
		}
		return n
	}
	before := writes()
	step("10.89.0.13")
	if writes() != before {
		t.Errorf("an unchanged result wrote again: %v", client.Actions())
	}
	up["10.89.0.12"] = true
	step("10.89.0.12", "10.89.0.13")
}
