package config

import (
	"strings"
	"testing"
	"time"
)

func TestFlagsFollowTheLabPlanAndTimingProfile(t *testing.T) {
	cfg := Config{
		AdvertiseIP: "10.89.0.11", EtcdServers: []string{"https://10.89.0.11:2379", "https://10.89.0.12:2379"},
		CertFile: "a.crt", KeyFile: "a.key", ClientCAFile: "ca.crt", SAPublicKeyFile: "sa.pub", SASigningKeyFile: "sa.key",
		EtcdCAFile: "etcd/ca.crt", EtcdCertFile: "etcd/c.crt", EtcdKeyFile: "etcd/c.key",
		NotReadyToleration: 5 * time.Second, UnreachableToleration: 6 * time.Second,
	}
	got := strings.Join(cfg.Flags(), " ")
	for _, want := range []string{
		"--advertise-address=10.89.0.11", "--secure-port=6443",
		"--etcd-servers=https://10.89.0.11:2379,https://10.89.0.12:2379",
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

func TestEtcdOverTLSAndEncryption(t *testing.T) {
	cfg := Config{
		AdvertiseIP: "10.89.0.11", EtcdServers: []string{"https://10.89.0.11:2379"},
		CertFile: "a.crt", KeyFile: "a.key", ClientCAFile: "ca.crt", SAPublicKeyFile: "sa.pub", SASigningKeyFile: "sa.key",
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "etcd CA, client certificate or key") {
		t.Errorf("https etcd without a client certificate: %v", err)
	}
	cfg.EtcdCAFile, cfg.EtcdCertFile, cfg.EtcdKeyFile = "etcd/ca.crt", "etcd/c.crt", "etcd/c.key"
	cfg.EncryptionConfigFile = "enc.yaml"
	if err := cfg.Validate(); err != nil {
		t.Errorf("complete config rejected: %v", err)
	}
	got := strings.Join(cfg.Flags(), " ")
	for _, want := range []string{"--etcd-cafile=etcd/ca.crt", "--etcd-certfile=etcd/c.crt", "--etcd-keyfile=etcd/c.key", "--encryption-provider-config=enc.yaml"} {
		if !strings.Contains(got, want) {
			t.Errorf("flags lack %s: %s", want, got)
		}
	}
	if e := cfg.Etcd(); e.CAFile != "etcd/ca.crt" || e.CertFile != "etcd/c.crt" || e.KeyFile != "etcd/c.key" || len(e.Endpoints) != 1 {
		t.Errorf("etcd client %+v", e)
	}
}

func TestFrontProxyAndEndpointRouting(t *testing.T) {
	cfg := Config{
		AdvertiseIP: "10.89.0.11", EtcdServers: []string{"http://10.89.0.11:2379"},
		CertFile: "a.crt", KeyFile: "a.key", ClientCAFile: "ca.crt", SAPublicKeyFile: "sa.pub", SASigningKeyFile: "sa.key",
	}
	got := strings.Join(cfg.Flags(), " ")
	if strings.Contains(got, "--requestheader") || strings.Contains(got, "--proxy-client") || strings.Contains(got, "--enable-aggregator-routing") {
		t.Errorf("flags without a front proxy or endpoint routing: %s", got)
	}
	cfg.FrontProxy = &FrontProxy{CAFile: "front-proxy-ca.crt", CertFile: "fp.crt"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "front proxy") {
		t.Errorf("front proxy without a key: %v", err)
	}
	cfg.FrontProxy.KeyFile, cfg.FrontProxy.AllowedNames = "fp.key", []string{"front-proxy-client"}
	cfg.EndpointRouting = true
	if err := cfg.Validate(); err != nil {
		t.Errorf("complete config rejected: %v", err)
	}
	got = strings.Join(cfg.Flags(), " ")
	for _, want := range []string{
		"--requestheader-client-ca-file=front-proxy-ca.crt", "--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=fp.crt", "--proxy-client-key-file=fp.key",
		"--enable-aggregator-routing=true",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("flags lack %s: %s", want, got)
		}
	}
}
