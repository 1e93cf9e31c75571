package forward

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// namedServer answers each connection with its name.
func namedServer(t *testing.T, name string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(name))
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func ask(t *testing.T, addr string) string {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, _ := io.ReadAll(c)
	return string(b)
}

func TestBalancerSendsOnlyToReadyTargetsAndFallsBackWhenNoneIs(t *testing.T) {
	a, b := namedServer(t, "a"), namedServer(t, "b")
	var bReady, aReady atomic.Bool
	aReady.Store(true)
	check := func(_ context.Context, target string) error {
		if (target == a && aReady.Load()) || (target == b && bReady.Load()) {
			return nil
		}
		return errors.New("not ready")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bal := &Balancer{Targets: []string{a, b}, Check: check, Interval: 10 * time.Millisecond, Log: slog.New(slog.DiscardHandler),
		StatusFile: t.TempDir() + "/status.json"}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- bal.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("never: %s", what)
			}
		}
	}
	readyCount := func() (n int) {
		for _, be := range bal.Backends() {
			if be.Ready {
				n++
			}
		}
		return n
	}
	waitFor("a ready", func() bool { return readyCount() == 1 })
	for range 6 {
		if got := ask(t, ln.Addr().String()); got != "a" {
			t.Fatalf("a connection went to %q while only a is ready", got)
		}
	}
	bReady.Store(true)
	waitFor("both ready", func() bool { return readyCount() == 2 })
	seen := map[string]int{}
	for range 10 {
		seen[ask(t, ln.Addr().String())]++
	}
	if seen["a"] == 0 || seen["b"] == 0 {
		t.Errorf("connections with both ready: %v, want both used", seen)
	}
	aReady.Store(false)
	bReady.Store(false)
	waitFor("none ready", func() bool { return readyCount() == 0 })
	if got := ask(t, ln.Addr().String()); got == "" {
		t.Error("with no target ready, a connection got nowhere: the balancer should still try them")
	}
	// The file follows the state in memory: it is written after each change.
	var st []Backend
	waitFor("the status file says none is ready", func() bool {
		st, err = ReadStatus(bal.StatusFile)
		return err == nil && len(st) == 2 && !st[0].Ready && !st[1].Ready
	})
	if st[0].Error == "" {
		t.Errorf("status file: %+v, want why a is out", st)
	}
}

// A connection relayed to a target that goes out of rotation is cut, so
// its client reconnects elsewhere instead of waiting on it; unless the
// target is still alive, when the connection is kept.
func TestBalancerCutsTheConnectionsOfATargetTakenOutUnlessItIsAlive(t *testing.T) {
	for name, tc := range map[string]struct {
		alive Check
		cut   bool
	}{
		"no liveness check": {nil, true},
		"dead":              {func(context.Context, string) error { return errors.New("connection refused") }, true},
		"alive":             {func(context.Context, string) error { return nil }, false},
	} {
		t.Run(name, func(t *testing.T) { testCut(t, tc.alive, tc.cut) })
	}
}

func testCut(t *testing.T, alive Check, wantCut bool) {
	ln0, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln0.Close()
	go func() { // holds every connection open, says nothing
		for {
			c, err := ln0.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	var ready atomic.Bool
	ready.Store(true)
	check := func(context.Context, string) error {
		if ready.Load() {
			return nil
		}
		return errors.New("down")
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	bal := &Balancer{Targets: []string{ln0.Addr().String()}, Check: check, Alive: alive, Interval: 10 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- bal.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	isReady := func() bool { b := bal.Backends(); return len(b) == 1 && b[0].Ready }
	for deadline := time.Now().Add(5 * time.Second); !isReady(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("target never ready")
		}
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond) // relayed by now
	ready.Store(false)
	for deadline := time.Now().Add(5 * time.Second); isReady(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("target never taken out")
		}
	}
	c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, err = c.Read(make([]byte, 1))
	switch {
	case wantCut && err != io.EOF:
		t.Fatalf("read on a connection to a target taken out: %v, want EOF (cut)", err)
	case !wantCut && !errors.Is(err, os.ErrDeadlineExceeded):
		t.Fatalf("read on a connection to a target taken out but alive: %v, want a timeout (kept)", err)
	}
}

func TestBalancerInOrderFailsOverToTheNextReadyTargetAndBack(t *testing.T) {
	a, b, c := namedServer(t, "a"), namedServer(t, "b"), namedServer(t, "c")
	var aDown atomic.Bool
	check := func(_ context.Context, target string) error {
		if target == a && aDown.Load() {
			return errors.New("paused")
		}
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bal := &Balancer{Targets: []string{a, b, c}, Check: check, Interval: 10 * time.Millisecond, InOrder: true, Log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go bal.Serve(ctx, ln)
	waitFor(t, func() bool { return allReady(bal.Backends()) })
	for range 5 {
		if got := ask(t, ln.Addr().String()); got != "a" {
			t.Fatalf("with every target ready, a connection went to %q, not the first", got)
		}
	}
	aDown.Store(true)
	waitFor(t, func() bool { return !bal.Backends()[0].Ready })
	for range 5 {
		if got := ask(t, ln.Addr().String()); got != "b" {
			t.Fatalf("with the first target out, a connection went to %q, not the next", got)
		}
	}
	aDown.Store(false)
	waitFor(t, func() bool { return bal.Backends()[0].Ready })
	if got := ask(t, ln.Addr().String()); got != "a" {
		t.Fatalf("once the first target was back, a connection went to %q", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func allReady(bs []Backend) bool {
	for _, b := range bs {
		if !b.Ready {
			return false
		}
	}
	return len(bs) > 0
}
