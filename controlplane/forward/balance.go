package forward

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"time"
)

// Check says whether a target serves (an API server's /readyz).
type Check func(ctx context.Context, target string) error

// Backend is a target as the balancer sees it.
type Backend struct {
	Target string `json:"target"`
	Ready  bool   `json:"ready"`
	// Since is when it last changed.
	Since time.Time `json:"since"`
	Error string    `json:"error,omitempty"`
}

// Balancer spreads connections over the targets that pass their check, as
// an L4 load balancer in front of API servers does: each target is checked
// every Interval; two failed checks in a row take it out of the rotation
// and cut its connections (one may be a hiccup of a busy machine), a
// passed one puts it back. When none passes, every target is tried, in
// turn.
type Balancer struct {
	Targets  []string
	Check    Check
	Interval time.Duration // default 250 ms
	// StatusFile, if set, gets the backends as JSON whenever one changes
	// (`lab status` reads it).
	StatusFile string
	Log        *slog.Logger
	// InOrder sends every connection to the first ready target in
	// Targets' order instead of taking turns: a failover list, such as an
	// API server's own etcd member first and the others after it.
	InOrder bool

	mu       sync.Mutex
	statusMu sync.Mutex // one writeStatus at a time
	backends []Backend
	failures []int // consecutive failed checks, by target
	next     int
	conns    tracker
}

// fall is how many failed checks in a row take a target out.
const fall = 2

// Serve accepts on ln until ctx is done; the checks run meanwhile.
func (b *Balancer) Serve(ctx context.Context, ln net.Listener) error {
	b.mu.Lock()
	for _, t := range b.Targets {
		b.backends = append(b.backends, Backend{Target: t, Since: time.Now()})
	}
	b.failures = make([]int, len(b.Targets))
	b.mu.Unlock()
	b.writeStatus()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range b.Targets {
		wg.Go(func() { b.watch(ctx, i) })
	}
	return serve(ctx, ln, b.pick, &b.conns, b.Log)
}

// watch checks backend i until ctx ends.
func (b *Balancer) watch(ctx context.Context, i int) {
	interval := b.Interval
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	for {
		cctx, cancel := context.WithTimeout(ctx, max(interval*4, time.Second))
		err := b.Check(cctx, b.Targets[i])
		cancel()
		if ctx.Err() != nil {
			return
		}
		b.set(i, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func (b *Balancer) set(i int, err error) {
	b.mu.Lock()
	be := &b.backends[i]
	wasReady := be.Ready
	ready, why := err == nil, ""
	if err != nil {
		why = err.Error()
		b.failures[i]++
		if wasReady && b.failures[i] < fall {
			b.mu.Unlock()
			return
		}
	} else {
		b.failures[i] = 0
	}
	changed := be.Ready != ready || be.Error != why
	if be.Ready != ready {
		be.Since = time.Now()
	}
	be.Ready, be.Error = ready, why
	b.mu.Unlock()
	if changed {
		b.Log.Info("backend changed", "target", b.Targets[i], "ready", ready, "err", err)
		b.writeStatus()
	}
	if wasReady && !ready {
		// As an L4 balancer that shuts a down server's sessions: its
		// clients reconnect to a ready one now, instead of waiting on a
		// server that is going or cut off.
		if n := b.conns.cut(b.Targets[i]); n > 0 {
			b.Log.Info("cut the connections of a target out of rotation", "target", b.Targets[i], "connections", n)
		}
	}
}

// pick orders the targets for a new connection: the ready ones, starting
// with the next in turn (or the first, InOrder), then the others (a last
// resort).
func (b *Balancer) pick() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ready, rest []string
	n := len(b.backends)
	for k := range n {
		be := b.backends[(b.next+k)%n]
		if be.Ready {
			ready = append(ready, be.Target)
		} else {
			rest = append(rest, be.Target)
		}
	}
	if !b.InOrder {
		b.next = (b.next + 1) % max(n, 1)
	}
	return slices.Concat(ready, rest)
}

// Backends is the balancer's view now.
func (b *Balancer) Backends() []Backend {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.backends)
}

// writeStatus writes the backends as they are now. The checks of two
// targets may change them at once: the writes take turns, each with the
// state at its turn, so the file never ends on an older state than the
// last change (and the two never share the temporary file).
func (b *Balancer) writeStatus() {
	if b.StatusFile == "" {
		return
	}
	b.statusMu.Lock()
	defer b.statusMu.Unlock()
	data, _ := json.MarshalIndent(b.Backends(), "", "  ")
	tmp := b.StatusFile + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err == nil {
		os.Rename(tmp, b.StatusFile)
	}
}

// ReadStatus reads what a balancer wrote to its StatusFile.
func ReadStatus(path string) ([]Backend, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Backend
	return out, json.Unmarshal(data, &out)
}
