package config

import (
	"strings"
	"testing"
)

func TestDefaultsAndValidate(t *testing.T) {
	c := Config{Kubeconfig: "k", Lab: "t", FabricNetns: "/run/netns/t-fabric", Bridge: "fabric0", RouterLink: "router"}
	c.Defaults()
	if c.Pool != DefaultPool || c.HealthPort != 10256 || c.CheckInterval <= 0 || c.Workers <= 0 {
		t.Errorf("defaults: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	c.Pool, c.Lab = "10.89.0.250-10.89.0.200", ""
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "invalid address pool") || !strings.Contains(err.Error(), "no lab name") {
		t.Errorf("err = %v", err)
	}
}

func TestParseRange(t *testing.T) {
	first, last, err := ParseRange("10.89.0.240")
	if err != nil || first != last || first.String() != "10.89.0.240" {
		t.Errorf("one address: %s %s %v", first, last, err)
	}
	if _, _, err := ParseRange(" 10.89.0.200 - 10.89.0.201 "); err != nil {
		t.Errorf("spaces: %v", err)
	}
}
