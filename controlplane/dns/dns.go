package dns

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
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
)

// Ports CoreDNS serves on, as in a kubeadm cluster.
const (
	Port        = 53
	HealthPort  = 8080
	ReadyPort   = 8181
	MetricsPort = 9153
)

// Config is what one DNS instance needs.
type Config struct {
	// Kubeconfig is the system:coredns identity.
	Kubeconfig string
	// Domain is the cluster domain (cluster.local).
	Domain string
	// Upstream are resolvers ("10.0.0.2:53") for names outside the cluster
	// domain; with none, those names are refused at once.
	Upstream []string
	// TTL of the answers, in seconds (default 5: a lab changes fast).
	TTL int

	Log *slog.Logger `json:"-"`
}

// Corefile is CoreDNS's configuration for cfg. The server block serves
// only the cluster's zones, so a query for any other name is refused by
// CoreDNS itself at once (no plugin to fail through, nothing logged);
// with Upstream, a second block forwards the rest of the world there, with
// loop detection.
func Corefile(cfg Config) string {
	domain := cfg.Domain
	if domain == "" {
		domain = "cluster.local"
	}
	ttl := cfg.TTL
	if ttl <= 0 {
		ttl = 5
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d in-addr.arpa:%d ip6.arpa:%d {\n", domain, Port, Port, Port)
	b.WriteString("    errors\n")
	fmt.Fprintf(&b, "    health :%d\n", HealthPort)
	fmt.Fprintf(&b, "    ready :%d\n", ReadyPort)
	fmt.Fprintf(&b, "    kubernetes %s in-addr.arpa ip6.arpa {\n", domain)
	fmt.Fprintf(&b, "        kubeconfig %s\n", cfg.Kubeconfig)
	b.WriteString("        pods insecure\n")
	fmt.Fprintf(&b, "        ttl %d\n", ttl)
	b.WriteString("    }\n")
	fmt.Fprintf(&b, "    prometheus :%d\n", MetricsPort)
	fmt.Fprintf(&b, "    cache %d\n", ttl)
	b.WriteString("}\n")
	if len(cfg.Upstream) > 0 {
		fmt.Fprintf(&b, ".:%d {\n    errors\n    forward . %s\n    cache 30\n    loop\n}\n", Port, strings.Join(cfg.Upstream, " "))
	}
	return b.String()
}

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
