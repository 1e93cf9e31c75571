package etcd

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/types"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/membership"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.uber.org/zap"
)

// Member is one running etcd member. Its lifetime is not tied to the context
// given to Start: Close ends it.
type Member struct {
	cfg       Config
	etcd      *embed.Etcd
	closing   *atomic.Bool // quiets etcd's error log while closing
	closeOnce sync.Once
}

// Run starts a member, waits until it serves, and then blocks until ctx is done
// (it returns nil) or etcd fails (it returns the error); either way the member
// is closed gracefully before Run returns.
func Run(ctx context.Context, cfg Config) error {
	m, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer m.Close()
	return m.Wait(ctx)
}

// Start starts a member and returns once it serves clients, which needs a
// quorum of the cluster. The whole start is bounded by cfg.ReadyTimeout and
// ctx; on any error nothing is left running.
func Start(ctx context.Context, cfg Config) (*Member, error) {
	startedAt := time.Now()
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("etcd member %q: invalid config: %w", cfg.Name, err)
	}
	closing := new(atomic.Bool)
	ec, err := embedConfig(cfg, newZapLogger(cfg, closing))
	if err != nil {
		return nil, fmt.Errorf("etcd member %q: %w", cfg.Name, err)
	}
	restart := wal.Exist(filepath.Join(cfg.DataDir, "member", "wal"))
	cfg.Log.Info("starting etcd member", "member", cfg.Name, "dataDir", cfg.DataDir, "restart", restart,
		"clientURLs", cfg.ClientURLs, "clientHTTPURLs", cfg.ClientHTTPURLs, "peerURL", cfg.PeerURL)
	readyCtx, cancel := context.WithDeadline(ctx, startedAt.Add(cfg.ReadyTimeout))
	defer cancel()
	awaitSeed(readyCtx, cfg, restart)
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, startError(cfg, err)
	}
	m := &Member{cfg: cfg, etcd: e, closing: closing}
	if err := m.checkIdentity(); err != nil {
		m.Close()
		return nil, err
	}
	if err := m.waitReady(ctx, readyCtx); err != nil {
		m.Close()
		return nil, err
	}
	cfg.Log.Info("etcd member ready", "member", cfg.Name, "id", m.ID(), "took", time.Since(startedAt).Round(time.Millisecond))
	return m, nil
}

func embedConfig(cfg Config, lg *zap.Logger) (*embed.Config, error) {
	ec := embed.NewConfig()
	ec.Name = cfg.Name
	ec.Dir = cfg.DataDir
	var err error
	if ec.ListenClientUrls, err = parseURLs(cfg.ClientURLs); err != nil {
		return nil, err
	}
	if ec.AdvertiseClientUrls, err = parseURLs(cfg.AdvertisedClientURLs()); err != nil {
		return nil, err
	}
	if ec.ListenClientHttpUrls, err = parseURLs(cfg.ClientHTTPURLs); err != nil {
		return nil, err
	}
	if ec.ListenPeerUrls, err = parseURLs([]string{cfg.PeerURL}); err != nil {
		return nil, err
	}
	ec.AdvertisePeerUrls = ec.ListenPeerUrls
	ec.ClientTLSInfo, ec.PeerTLSInfo = tlsInfo(cfg.ClientTLS), tlsInfo(cfg.PeerTLS)
	ec.InitialCluster = cfg.InitialClusterFlag()
	ec.InitialClusterToken = cfg.ClusterToken
	ec.ClusterState = cfg.ClusterState
	ec.TickMs = uint(cfg.HeartbeatInterval / time.Millisecond)
	ec.ElectionMs = uint(cfg.ElectionTimeout / time.Millisecond)
	ec.AutoCompactionMode = embed.CompactorModePeriodic
	ec.AutoCompactionRetention = "0" // etcd's "off"
	if cfg.CompactionRetention > 0 {
		ec.AutoCompactionRetention = cfg.CompactionRetention.String()
	}
	if cfg.SnapshotCount > 0 {
		ec.SnapshotCount = cfg.SnapshotCount
	}
	ec.UnsafeNoFsync = cfg.UnsafeNoFsync
	ec.Logger = "zap"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	return ec, nil
}

// startError makes the usual start failures say what to do about them.
func startError(cfg Config, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("start etcd member %q: a client or peer port is in use (%v, %s): %w",
			cfg.Name, cfg.ClientURLs, cfg.PeerURL, err)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("start etcd member %q: a listen address is not on this host (wrong network namespace?): %w", cfg.Name, err)
	default:
		return fmt.Errorf("start etcd member %q in %s: %w", cfg.Name, cfg.DataDir, err)
	}
}

// checkIdentity catches a data dir left by another cluster or member: etcd
// would start from it and then fail to talk to its peers (cluster ID mismatch)
// with nothing but log lines to show for it. It assumes membership is fixed at
// bootstrap, as in kinns: IDs are derived from InitialCluster and the token.
func (m *Member) checkIdentity() error {
	urls, err := types.NewURLsMap(m.cfg.InitialClusterFlag())
	if err != nil {
		return fmt.Errorf("etcd member %q: parse initial cluster: %w", m.cfg.Name, err)
	}
	want, err := membership.NewClusterFromURLsMap(zap.NewNop(), m.cfg.ClusterToken, urls)
	if err != nil {
		return fmt.Errorf("etcd member %q: initial cluster: %w", m.cfg.Name, err)
	}
	wantMember := want.MemberByName(m.cfg.Name).ID
	gotCluster, gotMember := m.etcd.Server.Cluster().ID(), m.etcd.Server.MemberID()
	if gotCluster != want.ID() || gotMember != wantMember {
		return fmt.Errorf("etcd member %q: data dir %s holds member %s of cluster %s, want member %s of cluster %s (token %q): %w",
			m.cfg.Name, m.cfg.DataDir, gotMember, gotCluster, wantMember, want.ID(), m.cfg.ClusterToken, ErrForeignDataDir)
	}
	return nil
}

// waitReady waits until the member serves or readyCtx, derived from ctx with
// the ready deadline, ends.
func (m *Member) waitReady(ctx, readyCtx context.Context) error {
	select {
	case <-m.etcd.Server.ReadyNotify():
		return nil
	case <-readyCtx.Done():
		if ctx.Err() != nil {
			return fmt.Errorf("wait for etcd member %q: %w", m.cfg.Name, ctx.Err())
		}
		return fmt.Errorf("etcd member %q not ready within %s (is a quorum of %s up?): %w",
			m.cfg.Name, m.cfg.ReadyTimeout, m.cfg.InitialClusterFlag(), ErrNotReady)
	case err, ok := <-m.etcd.Err():
		if !ok || err == nil {
			err = ErrStopped
		}
		return fmt.Errorf("etcd member %q failed while starting: %w", m.cfg.Name, err)
	case <-m.etcd.Server.StopNotify():
		return fmt.Errorf("etcd member %q stopped while starting: %w", m.cfg.Name, ErrStopped)
	}
}

// Wait blocks until ctx is done (it returns nil) or the member fails or stops
// on its own (it returns why). It does not close the member.
func (m *Member) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err, ok := <-m.etcd.Err():
		if !ok || err == nil {
			err = ErrStopped
		}
		return fmt.Errorf("etcd member %q: %w", m.cfg.Name, err)
	case <-m.etcd.Server.StopNotify():
		return fmt.Errorf("etcd member %q: %w", m.cfg.Name, ErrStopped)
	}
}

// closeWait bounds how long Close waits for the client servers to drain
// once the server has stopped.
const closeWait = time.Second

// Close stops the member gracefully: a leader hands leadership over first, and
// in-flight requests get a bounded time to finish. Safe to call more than once.
func (m *Member) Close() {
	m.closeOnce.Do(func() {
		start := time.Now()
		m.closing.Store(true)
		// The server first: a leader hands its leadership over, raft stops
		// and the log is closed. embed.Etcd.Close alone would first drain
		// the client servers, which waits for clients' long watches (the
		// API server's) to end: seconds, for nothing that protects data.
		m.etcd.Server.Stop()
		closed := make(chan struct{})
		go func() {
			m.etcd.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(closeWait):
			m.cfg.Log.Warn("etcd client servers still draining; leaving them", "member", m.cfg.Name, "after", closeWait)
		}
		m.cfg.Log.Info("etcd member closed", "member", m.cfg.Name, "took", time.Since(start).Round(time.Millisecond))
	})
}

// Name is the member's name.
func (m *Member) Name() string { return m.cfg.Name }

// ID is the member's raft ID.
func (m *Member) ID() uint64 { return uint64(m.etcd.Server.MemberID()) }

// IsLeader tells whether the member currently leads the cluster.
func (m *Member) IsLeader() bool { return m.etcd.Server.Leader() == m.etcd.Server.MemberID() }

// Endpoints are the client URLs the member listens on.
func (m *Member) Endpoints() []string { return m.cfg.ClientURLs }
