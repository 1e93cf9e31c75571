package scheduler

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"
)

func TestYieldingSinkWritesAfterTheBindings(t *testing.T) {
	cs := fake.NewClientset()
	var busy atomic.Bool
	busy.Store(true)
	sink := newYieldingSink(&events.EventSinkImpl{Interface: cs.EventsV1()}, busy.Load, time.Millisecond, time.Minute)
	done := make(chan error, 1)
	go func() {
		_, err := sink.Create(context.Background(), &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "default"}})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the event was written while bindings were in flight (err %v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	busy.Store(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the event was not written once the bindings were done")
	}
	if _, err := cs.EventsV1().Events("default").Get(context.Background(), "e", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestYieldingSinkLetsEventsFlowUnderAFlood(t *testing.T) {
	cs := fake.NewClientset()
	var looks atomic.Int64
	busy := func() bool { looks.Add(1); return true }
	sink := newYieldingSink(&events.EventSinkImpl{Interface: cs.EventsV1()}, busy, time.Millisecond, 50*time.Millisecond)
	create := func(i int) {
		if _, err := sink.Create(context.Background(), &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("e", i), Namespace: "default"}}); err != nil {
			t.Fatal(err)
		}
	}
	create(0) // waits its 50 ms, looking at busy every millisecond
	if looks.Load() < 2 {
		t.Fatalf("the first event looked at busy %d times, want it to wait", looks.Load())
	}
	after := looks.Load()
	for i := 1; i < 20; i++ {
		create(i)
	}
	// Once the events have waited their bound, the next ones do not wait
	// again: three looks each (busy, still busy, busy after), no pause.
	if n := looks.Load() - after; n > 19*3 {
		t.Errorf("19 more events looked at busy %d times: they waited again behind bindings that never end", n)
	}
}
