package config

import (
	"strings"
	"testing"
	"time"
)

func TestFlagsFollowTheLabPlanAndTimingProfile(t *testing.T) {
	cfg := Config{
		AdvertiseIP: "10.89.0.11", EtcdServers: []string{"http://10.89.0.11:2379", "http://10.89.0.12:2379"},
		CertFile: "a.crt", KeyFile: "a.key", ClientCAFile: "ca.crt", SAPublicKeyFile: "sa.pub", SASigningKeyFile: "sa.key",
		NotReadyToleration: 5 * time.Second, UnreachableToleration: 6 * time.Second,
	}
	got := strings.Join(cfg.Flags(), " ")
	for _, want := range []string{
		"--advertise-address=10.89.0.11", "--secure-port=6443",
		"--etcd-servers=http://10.89.0.11:2379,http://10.89.0.12:2379",
		"--service-cluster-ip-range=10.96.0.0/16", "--service-node-port-range=30000-32767",
		"--anonymous-auth=false", "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
		"--default-not-ready-toleration-seconds=5", "--default-unreachable-toleration-seconds=6",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("flags lack %s: %s", want, got)
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("complete config rejected: %v", err)
	}
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "etcd servers") {
		t.Errorf("empty config: %v", err)
	}
}

func TestExtendTokenExpirationFlag(t *testing.T) {
	no, yes := false, true
	for _, tt := range []struct {
		v    *bool
		want string
	}{{nil, ""}, {&no, "--service-account-extend-token-expiration=false"}, {&yes, "--service-account-extend-token-expiration=true"}} {
		got := strings.Join(Config{ExtendTokenExpiration: tt.v}.Flags(), " ")
		if n := strings.Count(got, "--service-account-extend-token-expiration"); tt.want == "" && n != 0 || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("ExtendTokenExpiration %v: flags %s, want %q", tt.v, got, tt.want)
		}
	}
}
