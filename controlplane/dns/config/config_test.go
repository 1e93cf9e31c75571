package config

import (
	"strings"
	"testing"
)

func TestCorefileServesOnlyTheClusterWithoutUpstream(t *testing.T) {
	c := Corefile(Config{Kubeconfig: "/k", Domain: "cluster.local"})
	for _, want := range []string{"cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {", "kubeconfig /k", "ready :8181", "prometheus :9153"} {
		if !strings.Contains(c, want) {
			t.Errorf("Corefile lacks %q:\n%s", want, c)
		}
	}
	if strings.Contains(c, "forward") || strings.Contains(c, ".:53") {
		t.Errorf("a Corefile with no upstream forwards:\n%s", c)
	}
	c = Corefile(Config{Kubeconfig: "/k", Upstream: []string{"192.0.2.1:53"}})
	if !strings.Contains(c, ".:53 {") || !strings.Contains(c, "forward . 192.0.2.1:53") || !strings.Contains(c, "loop") {
		t.Errorf("upstream block missing:\n%s", c)
	}
}
