package containerd

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/kinns/kinns/kubelet/runtime"
)

// LogSink receives the output of one run; kubelet/logs' Writer is one.
type LogSink interface {
	// Stream returns the writer of "stdout" or "stderr".
	Stream(name string) io.Writer
	Close() error
}

// Config says which containerd to use and how.
type Config struct {
	// Address is containerd's socket; Namespace the node's containerd
	// namespace ("<lab>-<node>"), which must exist.
	Address, Namespace string
	// Snapshotter defaults to overlayfs, the one images are unpacked for.
	Snapshotter string
	// RuncRoot is runc's state folder; empty means runc's default.
	RuncRoot string
	// FIFODir holds the pipes between tasks and this process. It must survive
	// a restart of the kubelet, which reattaches to them.
	FIFODir string
	// PullTimeout bounds one image pull (default 5 minutes).
	PullTimeout time.Duration
	// Dial opens the connections of pulls (to registries, proxies and
	// name servers); nil: net.Dialer's, from this process's namespace.
	// The kubelet dials through the host's namespace (netns.Dialer).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Resolver resolves registry names for Dial's connections; nil: the
	// default resolver.
	Resolver *net.Resolver
	// RegistryConfigDir is a containerd certs.d-style folder of
	// <host>/hosts.toml files (mirrors, plain-HTTP or unverified
	// registries); empty: each registry's defaults.
	RegistryConfigDir string
	// OpenLog opens the log file of a run, appending to it if it exists.
	OpenLog func(path string) (LogSink, error)
	// OnExit is told of every run whose exit was recorded by a watcher (not
	// of those Start or List find ended). It must not block.
	OnExit func(runtime.Container)
	Log    *slog.Logger
}

var _ runtime.Runtime = (*Containerd)(nil)

// Containerd runs pods' containers as containerd containers and tasks. It is
// safe for concurrent use.
type Containerd struct {
	cfg    Config
	client *ctrd.Client
	cg     cgroups

	// ctx lives as long as the Containerd: exit watchers use it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	watches map[string]*watch
	locks   [32]sync.Mutex
}

// New connects to containerd. Call Recover before using containers that a
// previous kubelet started, and Close when done: Close leaves every container
// running.
func New(cfg Config) (*Containerd, error) {
	if cfg.Address == "" || cfg.Namespace == "" || cfg.FIFODir == "" || cfg.OpenLog == nil {
		return nil, errors.New("containerd runtime: address, namespace, FIFO folder and log opener are required")
	}
	if cfg.Snapshotter == "" {
		cfg.Snapshotter = "overlayfs"
	}
	if cfg.PullTimeout == 0 {
		cfg.PullTimeout = 5 * time.Minute
	}
	if cfg.OnExit == nil {
		cfg.OnExit = func(runtime.Container) {}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	client, err := ctrd.New(cfg.Address, ctrd.WithTimeout(5*time.Second), ctrd.WithDefaultNamespace(cfg.Namespace))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", cfg.Address, err)
	}
	ctx, cancel := context.WithCancel(namespaces.WithNamespace(context.Background(), cfg.Namespace))
	return &Containerd{
		cfg: cfg, client: client, cg: detectCgroups(),
		ctx: ctx, cancel: cancel, watches: map[string]*watch{},
	}, nil
}

// Close stops watching tasks and reading their output, leaving them running,
// and closes the connection.
func (c *Containerd) Close() error {
	c.cancel()
	c.mu.Lock()
	for _, w := range c.watches {
		w.detach()
	}
	c.mu.Unlock()
	c.wg.Wait()
	return c.client.Close()
}

// Version is containerd's version ("1.6.20").
func (c *Containerd) Version(ctx context.Context) (string, error) {
	v, err := c.client.Version(c.nsCtx(ctx))
	if err != nil {
		return "", fmt.Errorf("containerd version: %w", err)
	}
	return strings.TrimPrefix(v.Version, "v"), nil
}

func (c *Containerd) nsCtx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, c.cfg.Namespace)
}

// lock serialises the recording of one container's exit.
func (c *Containerd) lock(id string) func() {
	h := sha256.Sum256([]byte(id))
	m := &c.locks[int(h[0])%len(c.locks)]
	m.Lock()
	return m.Unlock
}

func (c *Containerd) fifoDir() string { return filepath.Clean(c.cfg.FIFODir) }
