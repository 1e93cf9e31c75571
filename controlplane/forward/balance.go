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
// (one may be a hiccup of a busy machine) and cut its connections unless it
// is still alive, a passed one puts it back. When none passes, every target
// is tried, in turn.
type Balancer struct {
	Targets []string
	Check   Check
	// Alive, if set, is asked when a target leaves the rotation. A target
	// that answers it (it is up, only not ready: an API server whose
	// store is slow) keeps its connections, and their requests end with
	// its own answers; one that does not (stopped, paused, cut off) has
	// them cut, so that its clients reconnect to a ready one at once.
	// Unset, connections are always cut.
	Alive    Check
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
	interval := b.interval()
	for {
		cctx, cancel := context.WithTimeout(ctx, b.checkTimeout())
		err := b.Check(cctx, b.Targets[i])
		cancel()
		if ctx.Err() != nil {
			return
		}
		b.set(ctx, i, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func (b *Balancer) set(ctx context.Context, i int, err error) {
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
		b.outOfRotation(ctx, i)
	}
}

// outOfRotation cuts the connections of target i, which just left the
// rotation, as an L4 balancer shuts a down server's sessions: its clients
// reconnect to a ready one now, instead of waiting on a server that is
// gone, paused or cut off. A target still alive keeps them: cutting would
// fail its requests in flight ("unexpected EOF") to no one's gain when
// what made it unready is shared, as a slow store is by every API server.
func (b *Balancer) outOfRotation(ctx context.Context, i int) {
	target := b.Targets[i]
	if b.Alive != nil {
		// An interval, not a check's timeout: a live target answers at
		// once, and a hung one would hold its clients that much longer.
		actx, cancel := context.WithTimeout(ctx, b.interval())
		err := b.Alive(actx, target)
		cancel()
		if err == nil {
			b.Log.Info("a target out of rotation is alive: its connections are kept", "target", target)
			return
		}
	}
	if n := b.conns.cut(target); n > 0 {
		b.Log.Info("cut the connections of a target out of rotation", "target", target, "connections", n)
	}
}

// checkTimeout bounds one check.
func (b *Balancer) checkTimeout() time.Duration {
	return max(b.interval()*4, time.Second)
}

func (b *Balancer) interval() time.Duration {
	if b.Interval <= 0 {
		return 250 * time.Millisecond
	}
	return b.Interval
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
