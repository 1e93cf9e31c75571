package linkfault

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"
)

// The delayer holds each packet its own time: a burst of packets all leave
// about one delay later, not one delay after each other.
func TestDelayerHoldsPacketsSideBySide(t *testing.T) {
	const n, delay = 100, 50 * time.Millisecond
	q := newFakeQueue()
	d := &delayer{cfg: DelayerConfig{Delay: delay}, conn: q, log: discard, now: time.Now, rand: rand.Float64}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.run(ctx) }()
	start := time.Now()
	arrived := map[uint32]time.Time{}
	for id := range uint32(n) {
		arrived[id] = time.Now()
		q.in <- []uint32{id}
	}
	for q.acceptedCount() < n && time.Since(start) < 10*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := q.acceptedCount(); got != n {
		t.Fatalf("accepted %d of %d packets", got, n)
	}
	for id, at := range q.accepted {
		if held := at.Sub(arrived[id]); held < delay {
			t.Errorf("packet %d held %v, less than the delay %v", id, held, delay)
		}
	}
	// One after another would take n*delay = 5 s.
	if took := time.Since(start); took > n*delay/4 {
		t.Errorf("%d packets took %v: the delayer serializes them", n, took)
	}
}

// On cancel, held packets are let go rather than left for the kernel to drop.
func TestDelayerLetsHeldPacketsGoWhenStopped(t *testing.T) {
	q := newFakeQueue()
	d := &delayer{cfg: DelayerConfig{Delay: time.Hour}, conn: q, log: discard, now: time.Now, rand: rand.Float64}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.run(ctx) }()
	q.in <- []uint32{1, 2, 3}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := q.acceptedCount(); got != 3 {
		t.Errorf("accepted %d of 3 held packets on stop", got)
	}
}

var discard = slog.New(slog.DiscardHandler)
