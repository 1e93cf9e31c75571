package dns

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/coredns/caddy"
	// The CoreDNS server type and the plugins the Corefile below uses; the
	// others (cloud providers…) are left out of the binary.
	_ "github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"

	"github.com/kinns/kinns/controlplane/dns/config"
)

// Config is one DNS instance (see the leaf package config, which the
// harness writes without linking CoreDNS).
type Config = config.Config

// Corefile is CoreDNS's configuration for cfg.
func Corefile(cfg Config) string { return config.Corefile(cfg) }

// ReadyPort serves CoreDNS's /ready.
const ReadyPort = config.ReadyPort

// Run serves DNS until ctx ends; ready is called once CoreDNS says it is
// ready (its kubernetes plugin has synced with the API).
func Run(ctx context.Context, cfg Config, ready func()) error {
	caddy.Quiet = true
	inst, err := caddy.Start(caddy.CaddyfileInput{Contents: []byte(Corefile(cfg)), Filepath: "Corefile", ServerTypeName: "dns"})
	if err != nil {
		return fmt.Errorf("start CoreDNS: %w", err)
	}
	defer inst.Stop()
	if err := waitReady(ctx, 60*time.Second); err != nil {
		return err
	}
	if cfg.Log != nil {
		cfg.Log.Info("serving DNS", "domain", cfg.Domain, "upstream", cfg.Upstream)
	}
	if ready != nil {
		ready()
	}
	<-ctx.Done()
	return nil
}

// waitReady polls CoreDNS's own readiness endpoint.
func waitReady(ctx context.Context, timeout time.Duration) error {
	url := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(ReadyPort)) + "/ready"
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CoreDNS not ready after %s: %w", timeout, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
