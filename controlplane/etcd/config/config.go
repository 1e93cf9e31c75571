package config

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
)

// Cluster states, as etcd spells them.
const (
	StateNew      = "new"
	StateExisting = "existing"
)

// Defaults applied by Start to zero fields of Config.
const (
	DefaultClusterToken        = "kinns"
	DefaultReadyTimeout        = 15 * time.Second
	DefaultCompactionRetention = 5 * time.Minute
	DefaultEtcdLogLevel        = "info"
)

// Peer is one member of the initial cluster.
type Peer struct {
	Name    string // member name, e.g. "cp-2"
	PeerURL string // e.g. "https://10.89.0.12:2380"
}

// TLS names the files of one side of a member, clients or peers: its own
// certificate and key, and the CA that must have signed the certificate every
// client (or peer) presents: with TLS, etcd takes no connection without one.
type TLS struct {
	CertFile, KeyFile, TrustedCAFile string
}

// IsZero reports a TLS without any file: plain http.
func (t TLS) IsZero() bool { return t == TLS{} }

func (t TLS) validate(side string, urls []string) []error {
	var errs []error
	for _, s := range urls {
		u, err := ParseURL(s)
		if err != nil {
			continue // reported by the caller
		}
		if (u.Scheme == "https") == t.IsZero() {
			errs = append(errs, fmt.Errorf("%s URL %q: https needs %s TLS files, and %s TLS files need https", side, s, side, side))
		}
	}
	if !t.IsZero() && (t.CertFile == "" || t.KeyFile == "" || t.TrustedCAFile == "") {
		errs = append(errs, fmt.Errorf("%s TLS needs a certificate, a key and a trusted CA file, got %+v", side, t))
	}
	return errs
}

// Client is how a client reaches a cluster: the members' client URLs and,
// for https ones, a client certificate that the members' CA signed.
type Client struct {
	Endpoints                 []string
	CAFile, CertFile, KeyFile string
}

// Config describes one member. Every member of a cluster must be given the same
// InitialCluster and ClusterToken.
type Config struct {
	Name    string // member name, e.g. "cp-1"; must appear in InitialCluster
	DataDir string // etcd's data dir; created if missing

	// ClientURLs are listened on. All of them are advertised except loopback
	// ones when a non-loopback URL is present: the advertised URLs end up in
	// the member list, where 127.0.0.1 would point clients into their own
	// namespace.
	ClientURLs []string
	// ClientHTTPURLs, if set, take etcd's HTTP endpoints (/health, /metrics,
	// /version), under ClientTLS like ClientURLs, which then serve gRPC alone
	// on gRPC's own server. Under TLS that costs far less CPU than gRPC
	// served inside etcd's HTTP server, which ClientURLs otherwise share.
	ClientHTTPURLs []string
	// PeerURL is listened on and advertised; it must equal this member's entry
	// in InitialCluster.
	PeerURL string
	// ClientTLS and PeerTLS make the client and peer ports take TLS only,
	// from holders of a certificate of their TrustedCAFile: https URLs need
	// them, http URLs must go without.
	ClientTLS, PeerTLS TLS

	InitialCluster []Peer
	// ClusterToken keeps members of different clusters apart: use the lab name.
	ClusterToken string

	// ClusterState is StateNew (default) to bootstrap, or StateExisting to join
	// a running cluster that already lists this member. etcd ignores it once
	// DataDir holds a write-ahead log: a restarted member simply rejoins with
	// its old identity and data, whichever state it is given.
	ClusterState string

	// HeartbeatInterval and ElectionTimeout default to etcd's 100ms and 1s;
	// see Timing. They have millisecond granularity.
	HeartbeatInterval time.Duration
	ElectionTimeout   time.Duration

	// ReadyTimeout bounds Start's waits, up to the member serving (default
	// 15s); etcd's own bootstrap steps within have limits of a few seconds of
	// their own. A member is ready only once a quorum of the cluster is up, so
	// members of a new cluster must be started concurrently, not in turn.
	ReadyTimeout time.Duration

	// CompactionRetention is the history etcd keeps (periodic auto-compaction,
	// default 5m, like the API server's own compaction interval); watchers
	// that fall further behind get "compacted" (HTTP 410 Gone through the API
	// server). Negative disables auto-compaction.
	CompactionRetention time.Duration
	// SnapshotCount is the number of applied entries between raft snapshots;
	// zero keeps etcd's default (10000).
	SnapshotCount uint64
	// UnsafeNoFsync skips fsync. Data then survives a killed process (the
	// page cache keeps it) but not a host crash; on a busy shared disk it
	// removes the fsync stalls that otherwise delay heartbeats.
	UnsafeNoFsync bool

	// Log receives this package's messages and etcd's error-level records.
	// Nil discards them. Not part of a Config written as JSON, like EtcdLog.
	Log *slog.Logger `json:"-"`
	// EtcdLog, when set, receives etcd's own log as JSON lines at
	// EtcdLogLevel ("debug", "info", "warn", "error"; default "info").
	EtcdLog      io.Writer `json:"-"`
	EtcdLogLevel string
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	heartbeat, election := Timing(ProfileKubernetes)
	c.ClusterState = cmp.Or(c.ClusterState, StateNew)
	c.ClusterToken = cmp.Or(c.ClusterToken, DefaultClusterToken)
	c.HeartbeatInterval = cmp.Or(c.HeartbeatInterval, heartbeat)
	c.ElectionTimeout = cmp.Or(c.ElectionTimeout, election)
	c.ReadyTimeout = cmp.Or(c.ReadyTimeout, DefaultReadyTimeout)
	c.CompactionRetention = cmp.Or(c.CompactionRetention, DefaultCompactionRetention)
	c.EtcdLogLevel = cmp.Or(c.EtcdLogLevel, DefaultEtcdLogLevel)
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem of a defaulted Config at once.
func (c Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name is empty"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data dir is empty"))
	}
	if len(c.ClientURLs) == 0 {
		errs = append(errs, errors.New("no client URL"))
	}
	for _, u := range slices.Concat(c.ClientURLs, c.ClientHTTPURLs, []string{c.PeerURL}) {
		if _, err := ParseURL(u); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.validateCluster()...)
	errs = append(errs, c.ClientTLS.validate("client", slices.Concat(c.ClientURLs, c.ClientHTTPURLs))...)
	errs = append(errs, c.PeerTLS.validate("peer", c.peerURLs())...)
	if c.ClusterState != StateNew && c.ClusterState != StateExisting {
		errs = append(errs, fmt.Errorf("cluster state %q is neither %q nor %q", c.ClusterState, StateNew, StateExisting))
	}
	if c.HeartbeatInterval < time.Millisecond || c.ElectionTimeout < 5*c.HeartbeatInterval {
		errs = append(errs, fmt.Errorf("election timeout %s must be at least 5 heartbeats of %s (and heartbeat at least 1ms)", c.ElectionTimeout, c.HeartbeatInterval))
	}
	if c.ReadyTimeout < 0 {
		errs = append(errs, fmt.Errorf("ready timeout %s is negative", c.ReadyTimeout))
	}
	if _, err := zapcore.ParseLevel(c.EtcdLogLevel); err != nil {
		errs = append(errs, fmt.Errorf("etcd log level: %w", err))
	}
	return errors.Join(errs...)
}

func (c Config) validateCluster() []error {
	var errs []error
	names := map[string]bool{}
	for _, p := range c.InitialCluster {
		if p.Name == "" || strings.ContainsAny(p.Name, "=,") {
			errs = append(errs, fmt.Errorf("initial cluster: bad member name %q", p.Name))
		}
		if names[p.Name] {
			errs = append(errs, fmt.Errorf("initial cluster: member %q listed twice", p.Name))
		}
		names[p.Name] = true
		if p.Name == c.Name && p.PeerURL != c.PeerURL {
			errs = append(errs, fmt.Errorf("initial cluster lists %q at %q but its peer URL is %q", p.Name, p.PeerURL, c.PeerURL))
		}
	}
	if !names[c.Name] {
		errs = append(errs, fmt.Errorf("initial cluster does not list member %q", c.Name))
	}
	return errs
}

func (c Config) peerURLs() []string {
	urls := []string{c.PeerURL}
	for _, p := range c.InitialCluster {
		urls = append(urls, p.PeerURL)
	}
	return urls
}

// InitialClusterFlag renders InitialCluster the way etcd's --initial-cluster flag
// takes it: "cp-1=http://...,cp-2=http://...".
func (c Config) InitialClusterFlag() string {
	parts := make([]string, 0, len(c.InitialCluster))
	for _, p := range c.InitialCluster {
		parts = append(parts, p.Name+"="+p.PeerURL)
	}
	return strings.Join(parts, ",")
}

// AdvertisedClientURLs drops loopback URLs when another URL is present (see
// Config.ClientURLs).
func (c Config) AdvertisedClientURLs() []string {
	var out []string
	for _, s := range c.ClientURLs {
		if u, err := ParseURL(s); err == nil && !isLoopback(u) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return c.ClientURLs
	}
	return out
}

func isLoopback(u *url.URL) bool {
	h := u.Hostname()
	return h == "localhost" || strings.HasPrefix(h, "127.") || h == "::1"
}

// ParseURL parses a member URL: https://HOST:PORT, or http://HOST:PORT
// without TLS.
func ParseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("parse URL %q: %w", s, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Port() == "" || u.Path != "" {
		return nil, fmt.Errorf("URL %q: want https://HOST:PORT (or http:// without TLS)", s)
	}
	return u, nil
}

// Seed returns the member every other member of a new cluster asks first
// whether the cluster was bootstrapped: the one whose peer URL sorts first,
// as etcd sorts them.
func (c Config) Seed() Peer {
	seed := c.InitialCluster[0]
	for _, p := range c.InitialCluster[1:] {
		if CanonicalURL(p.PeerURL) < CanonicalURL(seed.PeerURL) {
			seed = p
		}
	}
	return seed
}

// CanonicalURL spells u as etcd sorts it.
func CanonicalURL(u string) string {
	parsed, err := ParseURL(u)
	if err != nil {
		return u
	}
	return parsed.String()
}
