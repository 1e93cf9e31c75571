package controllers

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
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
	if !strings.Contains(string(b), `"NodeMonitorGracePeriod":10000000000`) {
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
