package cloud

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestCheckerNeedsTwoFailuresInARow(t *testing.T) {
	var mu sync.Mutex
	down := map[string]bool{}
	get := func(_ context.Context, url string) error {
		mu.Lock()
		defer mu.Unlock()
		if down[url] {
			return errors.New("503")
		}
		return nil
	}
	c := newChecker(get, time.Second)
	a, b := Check{IP: ip("10.89.0.21"), Port: 31000, Path: "/"}, Check{IP: ip("10.89.0.22"), Port: 31000, Path: "/"}
	ctx := context.Background()
	if c.failed(a) {
		t.Fatal("a check never made has failed")
	}
	c.run(ctx, []Check{a})
	down[a.URL()] = true
	c.run(ctx, []Check{a, b})
	if c.failed(a) {
		t.Error("one failure took a out")
	}
	c.run(ctx, []Check{a, b})
	if !c.failed(a) || c.failed(b) {
		t.Errorf("after two rounds: a failed %v, b failed %v", c.failed(a), c.failed(b))
	}
	down[a.URL()] = false
	c.run(ctx, []Check{a})
	if c.failed(a) {
		t.Error("a passed check does not put a back")
	}
}

// A node whose first check fails is out at once: a restarted manager
// must not route a Local Service to nodes without its endpoints.
func TestCheckerFirstFailureCountsInFull(t *testing.T) {
	c := newChecker(func(context.Context, string) error { return errors.New("503") }, time.Second)
	a := Check{IP: ip("10.89.0.21"), Port: 31000, Path: "/"}
	c.run(context.Background(), []Check{a})
	if !c.failed(a) {
		t.Error("a failed its first check and is still in")
	}
}

// The run loop routes a new Service at once, without waiting for a tick.
func TestRouterRoutesANewServiceAtOnce(t *testing.T) {
	n1 := node("node-1", "10.89.0.21", true)
	p, r, f := testRouter(t, n1)
	r.interval = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.run(ctx) }()
	defer func() { cancel(); <-done }()
	p.EnsureLoadBalancer(ctx, "t", lbService("a"), []*corev1.Node{n1})
	deadline := time.Now().Add(5 * time.Second)
	for len(f.now()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := f.now()[ip("10.89.0.200")]; len(got) != 1 || got[0] != ip("10.89.0.21") {
		t.Errorf("routes %v", f.now())
	}
}
