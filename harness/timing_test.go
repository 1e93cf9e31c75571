package harness

import (
	"testing"
	"time"
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
