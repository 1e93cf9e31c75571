package harness

import (
	"testing"
	"time"

	controllersconfig "github.com/kinns/kinns/controlplane/controllers/config"
	kubeletconfig "github.com/kinns/kinns/kubelet/config"
)

func TestTimingProfileTokens(t *testing.T) {
	for _, tt := range []struct {
		profile string
		extend  bool
		maxAge  time.Duration
	}{
		{TimingKubernetes, true, 24 * time.Hour}, // upstream's
		{TimingFast, false, 20 * time.Second},
	} {
		p := TimingProfile(tt.profile)
		if p.ExtendTokenExpiration != tt.extend || p.TokenMaxAge != tt.maxAge {
			t.Errorf("%s: extend %v, max age %s; want %v, %s", tt.profile, p.ExtendTokenExpiration, p.TokenMaxAge, tt.extend, tt.maxAge)
		}
	}
}

// TestTimingProfileNodeHealth checks that the parts of each profile fit: a
// kubelet must lose several renewals in a row before the node controller's
// grace runs out, and renew well within the controller's blind threshold
// (half the grace: no node seen for that long means its own view is cut).
func TestTimingProfileNodeHealth(t *testing.T) {
	for _, profile := range []string{TimingFast, TimingKubernetes} {
		p := TimingProfile(profile)
		renew, grace := p.LeaseRenew, p.NodeGrace
		if renew != kubeletconfig.TimingsFor(profile).LeaseRenewInterval || grace != controllersconfig.Timing(profile).NodeMonitorGracePeriod {
			t.Errorf("%s: profile's renewal %s and grace %s differ from the kubelet's and the controllers'", profile, renew, grace)
		}
		if grace < 4*renew {
			t.Errorf("%s: grace %s is under 4 renewals of %s", profile, grace, renew)
		}
		if grace/2 < 2*renew {
			t.Errorf("%s: blind threshold %s is under 2 renewals of %s", profile, grace/2, renew)
		}
	}
	fast := TimingProfile(TimingFast)
	if heal := fast.NodeGrace + fast.UnreachableToleration; heal > 8*time.Second {
		t.Errorf("fast profile: a dead node's pods wait %s before eviction; the lab's goal is 10 s to Ready elsewhere", heal)
	}
}
