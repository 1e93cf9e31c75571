package harness

import (
	"strings"
	"testing"
)

func TestCheckLoadBalancerPool(t *testing.T) {
	for pool, want := range map[string]string{
		"10.89.0.200-10.89.0.250": "",
		"10.89.0.101-10.89.0.254": "",
		"10.89.0.230":             "",
		"10.89.0.250-10.89.0.200": "want FIRST-LAST",
		"10.1.2.3-10.1.2.9":       "not free on the fabric",
		"10.89.0.90-10.89.0.120":  "not free on the fabric", // the client is .100
		"10.89.0.240-10.89.0.255": "not free on the fabric", // broadcast
	} {
		err := CheckLoadBalancerPool(pool)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("CheckLoadBalancerPool(%q) = %v, want %q", pool, err, want)
		}
	}
}
