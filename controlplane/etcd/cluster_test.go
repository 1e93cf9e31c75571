package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/kinns/kinns/controlplane/pki"
)

// testCluster is a cluster of in-process members on 127.0.0.1, each with its
// own free ports and temporary data dir, over TLS with certificates from the
// lab's pki, as in a lab.
type testCluster struct {
	t       *testing.T
	cfgs    []Config
	pki     pki.Paths
	mu      sync.Mutex
	members []*Member // nil while a member is stopped
}

func newTestCluster(t *testing.T, n int, tweak func(*Config)) *testCluster {
	t.Helper()
	ports := freePorts(t, 2*n)
	dir := t.TempDir()
	hb, el := Timing(ProfileFast)
	c := &testCluster{t: t, members: make([]*Member, n), pki: testPKI(t, dir, n)}
	var peers []Peer
	for i := range n {
		peers = append(peers, Peer{Name: fmt.Sprintf("cp-%d", i+1), PeerURL: fmt.Sprintf("https://127.0.0.1:%d", ports[2*i+1])})
	}
	for i, p := range peers {
		cfg := Config{
			Name:              p.Name,
			DataDir:           filepath.Join(dir, p.Name),
			ClientURLs:        []string{fmt.Sprintf("https://127.0.0.1:%d", ports[2*i])},
			PeerURL:           p.PeerURL,
			ClientTLS:         TLS{CertFile: c.pki.EtcdServerCert(p.Name), KeyFile: c.pki.EtcdServerKey(p.Name), TrustedCAFile: c.pki.EtcdCACert()},
			PeerTLS:           TLS{CertFile: c.pki.EtcdPeerCert(p.Name), KeyFile: c.pki.EtcdPeerKey(p.Name), TrustedCAFile: c.pki.EtcdCACert()},
			InitialCluster:    peers,
			ClusterToken:      "test-" + t.Name(),
			HeartbeatInterval: hb,
			ElectionTimeout:   el,
			ReadyTimeout:      15 * time.Second,
			Log:               slog.New(slog.NewTextHandler(t.Output(), nil)),
		}
		if tweak != nil {
			tweak(&cfg)
		}
		c.cfgs = append(c.cfgs, cfg)
	}
	t.Cleanup(c.closeAll)
	return c
}

// testPKI makes the certificates of n members cp-1..cp-n on 127.0.0.1.
func testPKI(t *testing.T, dir string, n int) pki.Paths {
	t.Helper()
	var members []pki.EtcdMember
	for i := range n {
		members = append(members, pki.EtcdMember{Name: fmt.Sprintf("cp-%d", i+1), IP: netip.MustParseAddr("127.0.0.1")})
	}
	b, err := pki.Generate(t.Context(), pki.Config{Lab: "test", Dir: filepath.Join(dir, "pki"), EtcdMembers: members})
	if err != nil {
		t.Fatalf("make the test pki: %v", err)
	}
	return b.Paths
}

// as is how client id reaches members idx (all if none).
func (c *testCluster) as(id pki.EtcdClient, idx ...int) Client {
	return Client{Endpoints: c.endpoints(idx...), CAFile: c.pki.EtcdCACert(), CertFile: c.pki.EtcdClientCert(id), KeyFile: c.pki.EtcdClientKey(id)}
}

// freePorts asks the kernel for n free ports, holding them all until every
// one is chosen so that no two are the same.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// startAll starts every member concurrently, as the harness does.
func (c *testCluster) startAll(ctx context.Context) error {
	errs := make([]error, len(c.cfgs))
	var wg sync.WaitGroup
	for i := range c.cfgs {
		wg.Go(func() { errs[i] = c.start(ctx, i, StateNew) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *testCluster) start(ctx context.Context, i int, state string) error {
	cfg := c.cfgs[i]
	cfg.ClusterState = state
	m, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.members[i] = m
	c.mu.Unlock()
	return nil
}

func (c *testCluster) stop(i int) {
	c.mu.Lock()
	m := c.members[i]
	c.members[i] = nil
	c.mu.Unlock()
	if m != nil {
		m.Close()
	}
}

// kill stops member i the way SIGKILL would as far as its peers can tell: no
// leadership transfer, no goodbye.
func (c *testCluster) kill(i int) {
	c.mu.Lock()
	m := c.members[i]
	c.mu.Unlock()
	if m != nil {
		m.etcd.Server.HardStop()
	}
	c.stop(i)
}

func (c *testCluster) closeAll() {
	for i := range c.members {
		c.stop(i)
	}
}

func (c *testCluster) leader() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range c.members {
		if m != nil && m.IsLeader() {
			return i
		}
	}
	return -1
}

func (c *testCluster) endpoints(idx ...int) []string {
	if len(idx) == 0 {
		for i := range c.cfgs {
			idx = append(idx, i)
		}
	}
	var eps []string
	for _, i := range idx {
		eps = append(eps, c.cfgs[i].ClientURLs...)
	}
	return eps
}

func (c *testCluster) client(idx ...int) *clientv3.Client {
	c.t.Helper()
	tlsCfg, err := clientTLS(c.as(pki.EtcdHealthcheckClient))
	if err != nil {
		c.t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.endpoints(idx...), TLS: tlsCfg, Logger: zap.NewNop()})
	if err != nil {
		c.t.Fatalf("etcd client: %v", err)
	}
	c.t.Cleanup(func() { cli.Close() })
	return cli
}

// putWithin retries a Put until it succeeds or d has passed, as any client of
// a cluster that is electing a new leader does. Each attempt gets at most a
// second: a proposal a follower forwarded to a leader that just died is lost,
// and etcd answers it only after its own request timeout (over 5s).
func putWithin(ctx context.Context, cli *clientv3.Client, key, val string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, time.Second)
		_, err := cli.Put(attempt, key, val)
		cancelAttempt()
		if err == nil || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func mustGet(t *testing.T, ctx context.Context, cli *clientv3.Client, key, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != want {
		t.Fatalf("get %q = %v, want %q", key, resp.Kvs, want)
	}
}

// TestClusterQuorum walks through what the lab's quorum faults do: a cluster
// forms, survives losing its leader, stops committing without a majority, and
// comes back with every acknowledged write when a member returns.
func TestClusterQuorum(t *testing.T) {
	ctx := t.Context()
	c := newTestCluster(t, 3, nil)

	start := time.Now()
	if err := c.startAll(ctx); err != nil {
		t.Fatalf("form cluster: %v", err)
	}
	t.Logf("cluster of 3 formed in %s", time.Since(start).Round(time.Millisecond))
	cli := c.client()
	if err := putWithin(ctx, cli, "k1", "v1", 3*time.Second); err != nil {
		t.Fatalf("put k1: %v", err)
	}
	mustGet(t, ctx, cli, "k1", "v1")
	if err := HasQuorum(ctx, c.as(pki.EtcdAPIServerClient), time.Second); err != nil {
		t.Fatalf("HasQuorum on a healthy cluster: %v", err)
	}
	// A checker made now keeps its client through the kills and restarts.
	checker, err := NewQuorumChecker(c.as(pki.EtcdAPIServerClient))
	if err != nil {
		t.Fatal(err)
	}
	defer checker.Close()
	if err := checker.Check(ctx, time.Second); err != nil {
		t.Fatalf("checker on a healthy cluster: %v", err)
	}

	first := c.leader()
	if first < 0 {
		t.Fatal("no member is leader")
	}
	start = time.Now()
	c.kill(first)
	if err := putWithin(ctx, cli, "k2", "v2", 3*time.Second); err != nil {
		t.Fatalf("put with leader %s killed: %v", c.cfgs[first].Name, err)
	}
	t.Logf("write committed %s after killing leader %s", time.Since(start).Round(time.Millisecond), c.cfgs[first].Name)

	second := (first + 1) % 3
	c.kill(second)
	putCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err = cli.Put(putCtx, "k3", "lost")
	cancel()
	if err == nil {
		t.Fatal("put succeeded with 2 of 3 members killed")
	}
	start = time.Now()
	err = HasQuorum(ctx, c.as(pki.EtcdAPIServerClient), time.Second)
	took := time.Since(start)
	t.Logf("HasQuorum failed after %s: %v", took.Round(time.Millisecond), err)
	if !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("HasQuorum with 2 of 3 killed = %v, want ErrNoQuorum", err)
	}
	if took > 1500*time.Millisecond {
		t.Errorf("HasQuorum took %s with a 1s timeout", took)
	}
	if err := checker.Check(ctx, time.Second); !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("checker with 2 of 3 killed = %v, want ErrNoQuorum", err)
	}

	start = time.Now()
	sts, err := ClusterStatus(ctx, c.as(pki.EtcdHealthcheckClient), time.Second)
	t.Logf("ClusterStatus with 2 of 3 killed took %s: %v", time.Since(start).Round(time.Millisecond), err)
	if reachable := countReachable(sts); err == nil || reachable != 1 {
		t.Errorf("ClusterStatus with 2 of 3 killed: %d reachable, error %v; want 1 and an error", reachable, err)
	}

	start = time.Now()
	if err := c.start(ctx, second, StateExisting); err != nil {
		t.Fatalf("restart %s on its data dir: %v", c.cfgs[second].Name, err)
	}
	if err := putWithin(ctx, cli, "k4", "v4", 3*time.Second); err != nil {
		t.Fatalf("put after restarting %s: %v", c.cfgs[second].Name, err)
	}
	t.Logf("quorum back and write committed %s after restarting %s", time.Since(start).Round(time.Millisecond), c.cfgs[second].Name)
	restarted := c.client(second) // reads through the restarted member itself
	for k, v := range map[string]string{"k1": "v1", "k2": "v2", "k4": "v4"} {
		mustGet(t, ctx, restarted, k, v)
	}
	if err := HasQuorum(ctx, c.as(pki.EtcdAPIServerClient), time.Second); err != nil {
		t.Fatalf("HasQuorum after restart: %v", err)
	}
	if err := checker.Check(ctx, time.Second); err != nil {
		t.Fatalf("checker after restart: %v", err)
	}

	if err := c.start(ctx, first, StateNew); err != nil { // the state is ignored on a used data dir
		t.Fatalf("restart %s: %v", c.cfgs[first].Name, err)
	}
	checkStatuses(t, ctx, c)
}

// checkStatuses expects every member reachable and agreeing on one leader.
func checkStatuses(t *testing.T, ctx context.Context, c *testCluster) {
	t.Helper()
	sts, err := ClusterStatus(ctx, c.as(pki.EtcdHealthcheckClient), time.Second)
	if err != nil {
		t.Fatalf("ClusterStatus: %v", err)
	}
	leaders := 0
	for _, st := range sts {
		if !st.Reachable || st.LeaderID == 0 || st.LeaderID != sts[0].LeaderID || st.RaftTerm == 0 || st.DBSize == 0 {
			t.Errorf("status %+v", st)
		}
		if st.IsLeader {
			leaders++
		}
	}
	if leaders != 1 {
		t.Errorf("%d members say they lead: %+v", leaders, sts)
	}
}

func countReachable(sts []Status) int {
	n := 0
	for _, st := range sts {
		if st.Reachable {
			n++
		}
	}
	return n
}
