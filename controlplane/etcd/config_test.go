package etcd

import (
	"bytes"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.uber.org/zap"
)

func validConfig() Config {
	return Config{
		Name:       "cp-1",
		DataDir:    "/tmp/x",
		ClientURLs: []string{"https://10.89.0.11:2379", "https://127.0.0.1:2379"},
		PeerURL:    "https://10.89.0.11:2380",
		ClientTLS:  TLS{CertFile: "/pki/etcd/server-cp-1.crt", KeyFile: "/pki/etcd/server-cp-1.key", TrustedCAFile: "/pki/etcd/ca.crt"},
		PeerTLS:    TLS{CertFile: "/pki/etcd/peer-cp-1.crt", KeyFile: "/pki/etcd/peer-cp-1.key", TrustedCAFile: "/pki/etcd/ca.crt"},
		InitialCluster: []Peer{
			{Name: "cp-1", PeerURL: "https://10.89.0.11:2380"},
			{Name: "cp-2", PeerURL: "https://10.89.0.12:2380"},
			{Name: "cp-3", PeerURL: "https://10.89.0.13:2380"},
		},
	}
}

// httpOnly turns every URL of c into plain http.
func httpOnly(c *Config) {
	for i := range c.ClientURLs {
		c.ClientURLs[i] = strings.Replace(c.ClientURLs[i], "https:", "http:", 1)
	}
	c.PeerURL = strings.Replace(c.PeerURL, "https:", "http:", 1)
	for i := range c.InitialCluster {
		c.InitialCluster[i].PeerURL = strings.Replace(c.InitialCluster[i].PeerURL, "https:", "http:", 1)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"valid", func(*Config) {}, ""},
		{"no name", func(c *Config) { c.Name = "" }, "name is empty"},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "data dir is empty"},
		{"ftp", func(c *Config) { c.ClientURLs = []string{"ftp://10.89.0.11:2379"} }, "want https://HOST:PORT"},
		{"no port", func(c *Config) { c.ClientURLs = []string{"http://10.89.0.11"} }, "want https://HOST:PORT"},
		{"plain http", func(c *Config) { c.ClientTLS, c.PeerTLS = TLS{}, TLS{}; httpOnly(c) }, ""},
		{"https without TLS", func(c *Config) { c.ClientTLS = TLS{} }, `client URL "https://10.89.0.11:2379": https needs client TLS files`},
		{"http with TLS", func(c *Config) { c.ClientURLs[1] = "http://127.0.0.1:2379" }, `client URL "http://127.0.0.1:2379": https needs`},
		{"peer https without TLS", func(c *Config) { c.PeerTLS = TLS{} }, `peer URL "https://10.89.0.11:2380": https needs peer TLS files`},
		{"a peer on http", func(c *Config) { c.InitialCluster[2].PeerURL = "http://10.89.0.13:2380" }, `peer URL "http://10.89.0.13:2380"`},
		{"HTTP URLs", func(c *Config) { c.ClientHTTPURLs = []string{"https://10.89.0.11:2381"} }, ""},
		{"HTTP URL without TLS", func(c *Config) { c.ClientHTTPURLs = []string{"http://10.89.0.11:2381"} }, `client URL "http://10.89.0.11:2381": https needs`},
		{"TLS without CA", func(c *Config) { c.ClientTLS.TrustedCAFile = "" }, "client TLS needs a certificate, a key and a trusted CA file"},
		{"not in cluster", func(c *Config) { c.Name = "cp-9" }, `does not list member "cp-9"`},
		{"peer URL differs", func(c *Config) { c.PeerURL = "http://10.89.0.11:2390" }, "but its peer URL is"},
		{"listed twice", func(c *Config) { c.InitialCluster = append(c.InitialCluster, c.InitialCluster[1]) }, "listed twice"},
		{"bad state", func(c *Config) { c.ClusterState = "old" }, `cluster state "old"`},
		{"election too short", func(c *Config) { c.ElectionTimeout = 300 * time.Millisecond }, "at least 5 heartbeats"},
		{"bad log level", func(c *Config) { c.EtcdLogLevel = "loud" }, "etcd log level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.change(&cfg)
			err := cfg.WithDefaults().Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestEmbedConfig(t *testing.T) {
	cfg := validConfig().WithDefaults()
	ec, err := embedConfig(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if got := ec.InitialCluster; got != "cp-1=https://10.89.0.11:2380,cp-2=https://10.89.0.12:2380,cp-3=https://10.89.0.13:2380" {
		t.Errorf("initial cluster %q", got)
	}
	for want, info := range map[TLS]transport.TLSInfo{cfg.ClientTLS: ec.ClientTLSInfo, cfg.PeerTLS: ec.PeerTLSInfo} {
		if !info.ClientCertAuth || info.TrustedCAFile != want.TrustedCAFile || info.CertFile != want.CertFile || info.KeyFile != want.KeyFile {
			t.Errorf("TLS %+v: want %+v, with client certificates required", info, want)
		}
	}
	if len(ec.ListenClientUrls) != 2 || len(ec.AdvertiseClientUrls) != 1 || ec.AdvertiseClientUrls[0].Host != "10.89.0.11:2379" {
		t.Errorf("client URLs: listen %v, advertise %v; want loopback listened on, not advertised", ec.ListenClientUrls, ec.AdvertiseClientUrls)
	}
	if ec.TickMs != 100 || ec.ElectionMs != 1000 || ec.ClusterState != StateNew || ec.InitialClusterToken != DefaultClusterToken {
		t.Errorf("defaults: tick %d election %d state %q token %q", ec.TickMs, ec.ElectionMs, ec.ClusterState, ec.InitialClusterToken)
	}
	if len(ec.ListenClientHttpUrls) != 0 {
		t.Errorf("HTTP URLs %v, want none: gRPC and HTTP share the client URLs", ec.ListenClientHttpUrls)
	}
	cfg.ClientHTTPURLs = []string{"https://10.89.0.11:2381"}
	if ec, _ := embedConfig(cfg, zap.NewNop()); len(ec.ListenClientHttpUrls) != 1 || ec.ListenClientHttpUrls[0].Host != "10.89.0.11:2381" {
		t.Errorf("HTTP URLs %v, want 10.89.0.11:2381", ec.ListenClientHttpUrls)
	}
	cfg.ClientHTTPURLs = nil
	if ec.AutoCompactionMode != "periodic" || ec.AutoCompactionRetention != "5m0s" {
		t.Errorf("compaction %s %s", ec.AutoCompactionMode, ec.AutoCompactionRetention)
	}
	cfg.CompactionRetention = -1
	if ec, _ = embedConfig(cfg, zap.NewNop()); ec.AutoCompactionRetention != "0" {
		t.Errorf("negative retention gives %q, want compaction off", ec.AutoCompactionRetention)
	}
	cfg.ClientURLs = []string{"https://127.0.0.1:2379"}
	if ec, _ = embedConfig(cfg, zap.NewNop()); len(ec.AdvertiseClientUrls) != 1 {
		t.Errorf("loopback-only member advertises %v", ec.AdvertiseClientUrls)
	}
}

func TestTiming(t *testing.T) {
	for _, p := range []string{ProfileFast, ProfileKubernetes, "typo"} {
		hb, el := Timing(p)
		if hb < 100*time.Millisecond || el < 5*hb || el > time.Second {
			t.Errorf("Timing(%q) = %s, %s", p, hb, el)
		}
	}
	if hb, el := Timing(ProfileKubernetes); hb != 100*time.Millisecond || el != time.Second {
		t.Errorf("kubernetes profile %s/%s, want etcd's defaults 100ms/1s", hb, el)
	}
}

func TestSeedSortsLikeEtcd(t *testing.T) {
	cfg := validConfig()
	cfg.InitialCluster = []Peer{
		{Name: "cp-3", PeerURL: "https://10.89.0.13:2380"},
		{Name: "cp-1", PeerURL: "https://10.89.0.11:2380"},
		{Name: "cp-2", PeerURL: "https://10.89.0.12:2380"},
	}
	if got := cfg.Seed().Name; got != "cp-1" {
		t.Errorf("seed %q, want cp-1", got)
	}
}

func TestEtcdLogRouting(t *testing.T) {
	var slogBuf, etcdBuf bytes.Buffer
	closing := new(atomic.Bool)
	cfg := validConfig()
	cfg.Log = slog.New(slog.NewTextHandler(&slogBuf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg.EtcdLog = &etcdBuf
	lg := newZapLogger(cfg.WithDefaults(), closing).With(zap.String("member", "cp-1"))

	lg.Info("chatty")
	lg.Warn("prober detected unhealthy status")
	lg.Error("disk full", zap.Error(errTest), zap.Int("n", 3))
	closing.Store(true)
	lg.Error("accept tcp: use of closed network connection")

	got := slogBuf.String()
	if strings.Contains(got, "chatty") || strings.Contains(got, "prober") || strings.Contains(got, "closed network") {
		t.Errorf("slog got etcd noise:\n%s", got)
	}
	if !strings.Contains(got, `level=ERROR msg="disk full" error=boom member=cp-1 n=3`) {
		t.Errorf("slog missed etcd's error:\n%s", got)
	}
	if n := strings.Count(etcdBuf.String(), "\n"); n != 4 {
		t.Errorf("etcd log has %d lines, want all 4:\n%s", n, etcdBuf.String())
	}
}

var errTest = testError("boom")

type testError string

func (e testError) Error() string { return string(e) }
