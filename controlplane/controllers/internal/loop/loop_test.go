package loop

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/cache"
)

func TestRunRetriesFailedKeysUntilTheySucceed(t *testing.T) {
	q := NewQueue("test")
	var mu sync.Mutex
	calls := map[string]int{}
	done := make(chan struct{})
	syncKey := func(_ context.Context, key string) error {
		mu.Lock()
		defer mu.Unlock()
		calls[key]++
		if key == "flaky" && calls[key] < 3 {
			return errors.New("not yet")
		}
		if calls["flaky"] == 3 && calls["steady"] == 1 {
			close(done)
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() {
		Run(ctx, slog.New(slog.DiscardHandler), q, 2, syncKey, func() bool { return true })
		close(finished)
	}()
	q.Add("flaky")
	q.Add("steady")
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("keys not synced: %v", calls)
	}
	cancel()
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if q.NumRequeues("flaky") != 0 {
		t.Error("succeeded key not forgotten")
	}
}

func TestUnwrapGivesTheLastStateOfATombstone(t *testing.T) {
	obj := &struct{ name string }{"x"}
	if Unwrap(obj) != any(obj) {
		t.Error("a plain object changed")
	}
	if Unwrap(cache.DeletedFinalStateUnknown{Key: "ns/x", Obj: obj}) != any(obj) {
		t.Error("a tombstone did not give its object")
	}
}
