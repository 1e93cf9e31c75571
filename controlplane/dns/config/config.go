// Package config is the cluster DNS's configuration and the Corefile it
// makes: plain data, so that the harness writes it without linking
// CoreDNS.
package config

import (
	"fmt"
	"log/slog"
	"strings"
)

// Ports CoreDNS serves on, as in a kubeadm cluster.
const (
	Port        = 53
	HealthPort  = 8080
	ReadyPort   = 8181
	MetricsPort = 9153
)

// The cluster DNS's Service, as in a kubeadm cluster, and the EndpointSlice
// that kinns keeps for it (its instances run on the control-plane hosts,
// not in pods, so no selector can find them).
const (
	Namespace = "kube-system"
	Service   = "kube-dns"
	SliceName = "kube-dns-kinns"
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
