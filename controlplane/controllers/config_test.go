package controllers

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kinns/kinns/controlplane/controllers/config"
)

func TestTimingProfiles(t *testing.T) {
	k := Timing(ProfileKubernetes)
	if k.NodeMonitorGracePeriod != 50*time.Second || k.NodeMonitorPeriod != 5*time.Second || k.NodeStartupGracePeriod != time.Minute {
		t.Errorf("kubernetes profile: %+v", k)
	}
	f := Timing(ProfileFast)
	if f.NodeMonitorGracePeriod > 10*time.Second || f.NodeMonitorPeriod >= f.NodeMonitorGracePeriod/4 {
		t.Errorf("fast profile: %+v", f)
	}
}

func TestConfigDefaultsAndValidation(t *testing.T) {
	c := Config{Kubeconfig: "/k"}
	c.Defaults()
	if err := c.Validate(Names()); err != nil {
		t.Fatal(err)
	}
	if c.ClusterCIDR != "10.244.0.0/16" || c.NodeCIDRMaskSize != 24 || c.QPS != 100 || c.Burst != 200 || c.Log == nil {
		t.Errorf("defaults: %+v", c)
	}
	bad := Config{ClusterCIDR: "10.244.0.0/16", NodeCIDRMaskSize: 8, Controllers: []string{"nope"}}
	bad.Defaults()
	err := bad.Validate(Names())
	for _, want := range []string{"no kubeconfig", "cluster CIDR", `unknown controller "nope"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}

func TestConfigJSONRoundTrip(t *testing.T) {
	c := Config{Kubeconfig: "/k", NodeTiming: Timing(ProfileFast), Controllers: []string{"nodelifecycle"}}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.NodeMonitorGracePeriod != c.NodeMonitorGracePeriod || back.Controllers[0] != "nodelifecycle" || back.Log != nil {
		t.Errorf("round trip: %+v", back)
	}
	if !strings.Contains(string(b), `"NodeMonitorGracePeriod":5000000000`) {
		t.Errorf("flat timing fields expected: %s", b)
	}
}

func TestNamesMatchSpecs(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range Names() {
		if seen[n] {
			t.Errorf("duplicate controller %s", n)
		}
		seen[n] = true
	}
	for _, want := range []string{"endpointslice", "endpoints", "nodeipam", "nodelifecycle", "serviceaccount", "namespace", "garbagecollector", "replicaset", "deployment"} {
		if !seen[want] {
			t.Errorf("controller %s missing", want)
		}
	}
}

func TestLeaderElectionTimingProfiles(t *testing.T) {
	k := config.LeaderElectionTiming(ProfileKubernetes)
	if k.LeaseDuration != 15*time.Second || k.RenewDeadline != 10*time.Second || k.RetryPeriod != 2*time.Second {
		t.Errorf("kubernetes profile: %+v, want upstream's 15s/10s/2s", k)
	}
	for _, p := range []string{ProfileFast, ProfileKubernetes} {
		le := config.LeaderElectionTiming(p)
		if le.LeaderElect || le.Identity != "" {
			t.Errorf("%s: timing only expected, got %+v", p, le)
		}
		le.LeaderElect = true
		if err := le.Validate(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if f := config.LeaderElectionTiming(ProfileFast); f.LeaseDuration > 5*time.Second {
		t.Errorf("fast profile hands over after %v", f.LeaseDuration)
	}
}

func TestLeaderElectionDefaultsAndValidation(t *testing.T) {
	c := Config{Kubeconfig: "/k"}
	c.Defaults()
	if c.LeaderElect || c.LeaseDuration != 15*time.Second || c.RenewDeadline != 10*time.Second || c.RetryPeriod != 2*time.Second {
		t.Errorf("defaults: %+v", c.LeaderElection)
	}
	for _, bad := range []config.LeaderElection{
		{LeaderElect: true, LeaseDuration: 900 * time.Millisecond, RenewDeadline: 500 * time.Millisecond, RetryPeriod: 100 * time.Millisecond},
		{LeaderElect: true, LeaseDuration: 1500 * time.Millisecond, RenewDeadline: 1200 * time.Millisecond, RetryPeriod: 100 * time.Millisecond},
		{LeaderElect: true, LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 3 * time.Second},
	} {
		c := Config{Kubeconfig: "/k", LeaderElection: bad}
		c.Defaults()
		if err := c.Validate(Names()); err == nil || !strings.Contains(err.Error(), "leader election") {
			t.Errorf("%+v: error %v", bad, err)
		}
	}
}

func TestLeaderElectionJSONFieldsAreFlat(t *testing.T) {
	le := config.LeaderElectionTiming(ProfileFast)
	le.LeaderElect, le.Identity = true, "cp-2"
	b, err := json.Marshal(Config{Kubeconfig: "/k", LeaderElection: le})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"LeaderElect":true`, `"Identity":"cp-2"`, `"LeaseDuration":4000000000`, `"RenewDeadline":3000000000`, `"RetryPeriod":500000000`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s missing from %s", want, b)
		}
	}
}
