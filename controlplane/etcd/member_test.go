package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kinns/kinns/controlplane/pki"
)

func TestStartPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := newTestCluster(t, 1, func(cfg *Config) { cfg.ClientURLs = []string{"https://" + l.Addr().String()} })
	err = c.start(t.Context(), 0, StateNew)
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("start on a used port = %v, want EADDRINUSE", err)
	}
	t.Log(err)
}

func TestStartForeignDataDir(t *testing.T) {
	ctx := t.Context()
	c := newTestCluster(t, 1, nil)
	if err := c.start(ctx, 0, StateNew); err != nil {
		t.Fatal(err)
	}
	c.stop(0)
	c.cfgs[0].ClusterToken = "another-lab"
	err := c.start(ctx, 0, StateExisting)
	if !errors.Is(err, ErrForeignDataDir) {
		t.Fatalf("start on another cluster's data dir = %v, want ErrForeignDataDir", err)
	}
	t.Log(err)
}

func TestStartWithoutQuorumTimesOut(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.ReadyTimeout = time.Second })
	alone := 0 // the seed, so that it does not wait for another member first
	for i, cfg := range c.cfgs {
		if cfg.Name == cfg.Seed().Name {
			alone = i
		}
	}
	start := time.Now()
	err := c.start(t.Context(), alone, StateNew)
	took := time.Since(start)
	if !errors.Is(err, ErrNotReady) {
		t.Fatalf("start of 1 member of 3 = %v, want ErrNotReady", err)
	}
	if took > 3*time.Second {
		t.Errorf("start with a 1s ready timeout took %s", took)
	}
	t.Logf("gave up after %s: %v", took.Round(time.Millisecond), err)
}

func TestRunReturnsWhenCancelled(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, c.cfgs[0]) }()
	if err := waitQuorum(t.Context(), c.as(pki.EtcdHealthcheckClient), 10*time.Second); err != nil {
		t.Fatalf("member never served: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := MemberStatus(t.Context(), c.as(pki.EtcdHealthcheckClient), c.endpoints()[0], 500*time.Millisecond); err == nil {
		t.Fatal("member still answers after Run returned")
	}
}

// waitQuorum polls HasQuorum until it succeeds or d has passed.
func waitQuorum(ctx context.Context, cl Client, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		err := HasQuorum(ctx, cl, 500*time.Millisecond)
		if err == nil || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestAutoCompaction shows that old revisions go away on their own, which is
// what makes an API server watch from an old resourceVersion get 410 Gone.
func TestAutoCompaction(t *testing.T) {
	ctx := t.Context()
	c := newTestCluster(t, 1, func(cfg *Config) { cfg.CompactionRetention = time.Second })
	if err := c.start(ctx, 0, StateNew); err != nil {
		t.Fatal(err)
	}
	cli := c.client()
	first, err := cli.Put(ctx, "k", "old")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := 0; ; i++ {
		if _, err := cli.Put(ctx, "k", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
		_, err := cli.Get(ctx, "k", clientv3.WithRev(first.Header.Revision))
		if errors.Is(err, rpctypes.ErrCompacted) {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("revision %d still readable after %s (last error %v)", first.Header.Revision, time.Since(start), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("revision compacted after %s", time.Since(start).Round(time.Millisecond))
}

// A member under TLS answers only clients whose certificate its CA signed:
// not one without a certificate, not one of the lab CA, not plain HTTP.
func TestMemberTakesOnlyClientsOfItsCA(t *testing.T) {
	ctx := t.Context()
	c := newTestCluster(t, 1, nil)
	if err := c.start(ctx, 0, StateNew); err != nil {
		t.Fatal(err)
	}
	if err := HasQuorum(ctx, c.as(pki.EtcdHealthcheckClient), time.Second); err != nil {
		t.Fatalf("with the etcd client certificate: %v", err)
	}
	noCert := c.as(pki.EtcdHealthcheckClient)
	noCert.CertFile, noCert.KeyFile = "", ""
	labCA := c.as(pki.EtcdHealthcheckClient)
	labCA.CertFile, labCA.KeyFile = c.pki.ClientCert(pki.Admin), c.pki.ClientKey(pki.Admin)
	for name, cl := range map[string]Client{"no certificate": noCert, "the lab CA's admin": labCA} {
		if err := HasQuorum(ctx, cl, 500*time.Millisecond); err == nil {
			t.Errorf("%s: a quorum read passed", name)
		}
	}
	resp, err := http.Get(strings.Replace(c.endpoints()[0], "https:", "http:", 1) + "/health")
	if err == nil {
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK || strings.Contains(string(body), "health") {
			t.Errorf("plain HTTP got %s: %s", resp.Status, body)
		}
	}
}

// With HTTP URLs of its own, a member serves gRPC on its client URLs and
// /health on the HTTP URLs, both only to holders of an etcd client certificate.
func TestMemberServesHTTPApartFromGRPC(t *testing.T) {
	ctx := t.Context()
	port := freePorts(t, 1)[0]
	httpURL := fmt.Sprintf("https://127.0.0.1:%d", port)
	c := newTestCluster(t, 1, func(cfg *Config) { cfg.ClientHTTPURLs = []string{httpURL} })
	if err := c.start(ctx, 0, StateNew); err != nil {
		t.Fatal(err)
	}
	if err := HasQuorum(ctx, c.as(pki.EtcdHealthcheckClient), time.Second); err != nil {
		t.Fatalf("gRPC on the client URL: %v", err)
	}
	tlsCfg, err := clientTLS(c.as(pki.EtcdHealthcheckClient))
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}, Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get(httpURL + "/health")
	if err != nil {
		t.Fatalf("/health on the HTTP URL: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"health":"true"`) {
		t.Errorf("/health: %s %s", resp.Status, body)
	}
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: tlsCfg.RootCAs}}, Timeout: 2 * time.Second}
	if resp, err := noCert.Get(httpURL + "/health"); err == nil {
		resp.Body.Close()
		t.Errorf("/health without a client certificate: %s", resp.Status)
	}
}
