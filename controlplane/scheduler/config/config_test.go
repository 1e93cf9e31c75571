package config

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	controllersconfig "github.com/kinns/kinns/controlplane/controllers/config"
)

func TestLeaderElectionIsOffByDefaultAndFlatInJSON(t *testing.T) {
	c := Config{}.WithDefaults()
	if c.LeaderElect || c.LeaseDuration != 15*time.Second || c.RenewDeadline != 10*time.Second || c.RetryPeriod != 2*time.Second {
		t.Errorf("defaults: %+v", c.LeaderElection)
	}
	le := controllersconfig.LeaderElectionTiming(controllersconfig.ProfileFast)
	le.LeaderElect, le.Identity = true, "cp-1"
	b, err := json.Marshal(Config{Kubeconfig: "/k", LeaderElection: le})
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.LeaderElection != le || !strings.Contains(string(b), `"LeaderElect":true`) {
		t.Errorf("round trip of %s: %+v", b, back.LeaderElection)
	}
}
