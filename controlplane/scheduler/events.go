package scheduler

import (
	"context"
	"sync"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/client-go/tools/events"
)

// maxEventYield bounds how long one event waits for the bindings.
const maxEventYield = 2 * time.Second

// yieldingSink writes events after the bindings: while busy says that API
// calls of decisions are in flight, event writes wait, maxEventYield at
// most in a row. A burst of pods would otherwise cost the API server two
// writes a pod (the binding and its Scheduled event) while the pods wait;
// this way the bindings go first and the events follow within a moment,
// in order. Under a flood that keeps the workers busy longer than max, the
// events flow again at once (the wait is counted from the first event held
// back, not per event), so they lag by max at most.
type yieldingSink struct {
	events.EventSink
	busy  func() bool
	pause time.Duration // between two looks at busy
	max   time.Duration

	mu    sync.Mutex
	since time.Time // when the events began to wait; zero when they did not
}

func newYieldingSink(sink events.EventSink, busy func() bool, pause, max time.Duration) *yieldingSink {
	return &yieldingSink{EventSink: sink, busy: busy, pause: pause, max: max}
}

func (y *yieldingSink) yield(ctx context.Context) {
	y.mu.Lock()
	defer y.mu.Unlock()
	if !y.busy() {
		y.since = time.Time{}
		return
	}
	if y.since.IsZero() {
		y.since = time.Now()
	}
	deadline := y.since.Add(y.max)
	for y.busy() && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(y.pause):
		}
	}
	if !y.busy() {
		y.since = time.Time{}
	}
}

func (y *yieldingSink) Create(ctx context.Context, e *eventsv1.Event) (*eventsv1.Event, error) {
	y.yield(ctx)
	return y.EventSink.Create(ctx, e)
}

func (y *yieldingSink) Update(ctx context.Context, e *eventsv1.Event) (*eventsv1.Event, error) {
	y.yield(ctx)
	return y.EventSink.Update(ctx, e)
}

func (y *yieldingSink) Patch(ctx context.Context, old *eventsv1.Event, data []byte) (*eventsv1.Event, error) {
	y.yield(ctx)
	return y.EventSink.Patch(ctx, old, data)
}
