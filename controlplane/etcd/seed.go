package etcd

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/kinns/kinns/controlplane/etcd/config"
)

// seedWait bounds how long a member of a new cluster waits for the seed: no
// longer than the delay it avoids.
const seedWait = 2 * time.Second

// Before bootstrapping a new cluster, etcd asks the other members, one after
// another in the order of their sorted peer URLs, whether it was bootstrapped
// already, giving each a second. Members started together have their peer
// ports open but do not answer yet, so forming a cluster would cost two
// seconds for nothing. So members start in two steps: the seed (the member
// whose peer URL sorts first, which every other member asks first) starts at
// once, its question getting "connection refused" from ports not yet open;
// the others wait until it answers on its peer port, and their question then
// gets a prompt answer from it.

// awaitSeed returns once the seed answers on its peer port, or after seedWait,
// or at once when this member is the seed or is not bootstrapping a new
// cluster. Not hearing from the seed is no error: etcd then just takes longer.
func awaitSeed(ctx context.Context, cfg Config, restart bool) {
	seed := cfg.Seed()
	if restart || cfg.ClusterState != StateNew || seed.Name == cfg.Name {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, seedWait)
	defer cancel()
	start := time.Now()
	client, err := peerClient(cfg)
	if err != nil {
		cfg.Log.Info("etcd seed cannot be asked; bootstrapping anyway", "member", cfg.Name, "err", err)
		return
	}
	defer client.CloseIdleConnections()
	for {
		if answers(ctx, client, config.CanonicalURL(seed.PeerURL)+"/members") {
			cfg.Log.Debug("etcd seed answers", "member", cfg.Name, "seed", seed.Name, "after", time.Since(start))
			return
		}
		select {
		case <-ctx.Done():
			cfg.Log.Info("etcd seed did not answer; bootstrapping anyway", "member", cfg.Name, "seed", seed.Name, "waited", time.Since(start))
			return
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// peerClient asks other members' peer ports as this member does: with its
// peer certificate, which they demand under TLS.
func peerClient(cfg Config) (*http.Client, error) {
	tr := &http.Transport{}
	if !cfg.PeerTLS.IsZero() {
		tlsCfg, err := tlsInfo(cfg.PeerTLS).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("peer certificate %s: %w", cfg.PeerTLS.CertFile, err)
		}
		tr.TLSClientConfig = tlsCfg
	}
	return &http.Client{Timeout: 250 * time.Millisecond, Transport: tr}, nil
}

func answers(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
