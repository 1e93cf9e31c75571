package apiserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/kinns/kinns/controlplane/forward"
)

// startEtcdFailover relays the store's connections to the first live etcd
// member of members, in their order, and returns the endpoint to give the
// store instead of them. livez[i] is member i's liveness URL, asked with
// tlsConfig every 500 ms (2 s to answer: a busy machine is not a dead
// member); two failed checks in a row take a member out and cut the
// connections relayed to it, so the store's client reconnects to the next.
// A member that stops refuses connections, and the next one takes them at
// once.
//
// Why not the store's own client, given every member: it takes turns over
// them and learns of a member that hangs (a paused process, a host that
// froze) only from its gRPC keepalive, 30 s plus 10 s in the API server,
// while every request sent to that member waits. kubeadm's answer is to
// give each API server its host's member alone, which leaves a lone API
// server without a store when that member stops; a failover list keeps its
// own member first, as kubeadm does, and moves on when it stops answering.
// Liveness, not readiness: a member cut off from the others is still live,
// and the quorum guard, not a switch of member, answers for lost quorum.
func startEtcdFailover(ctx context.Context, members, livez []string, tlsConfig *tls.Config, log *slog.Logger) (string, error) {
	if len(members) != len(livez) {
		return "", fmt.Errorf("etcd failover: %d members and %d liveness URLs", len(members), len(livez))
	}
	scheme := ""
	var targets []string
	check := map[string]string{}
	for i, m := range members {
		u, err := url.Parse(m)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("etcd failover: member URL %q: %v", m, err)
		}
		if scheme != "" && u.Scheme != scheme {
			return "", fmt.Errorf("etcd failover: members mix %s and %s", scheme, u.Scheme)
		}
		scheme = u.Scheme
		targets = append(targets, u.Host)
		check[u.Host] = livez[i]
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig, DisableKeepAlives: true}}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("etcd failover: listen: %w", err)
	}
	b := &forward.Balancer{
		Targets: targets, InOrder: true, Interval: 500 * time.Millisecond, Log: log.With("relay", "etcd"),
		Check: func(ctx context.Context, target string) error { return forward.GetOK(ctx, client, check[target]) },
		Alive: forward.Handshake(tlsConfig),
	}
	go func() {
		if err := b.Serve(ctx, ln); err != nil && ctx.Err() == nil {
			log.Error("etcd failover relay stopped", "err", err)
		}
	}()
	return scheme + "://" + ln.Addr().String(), nil
}
