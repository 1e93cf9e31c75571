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
	sink := newYieldingSink(&events.EventSinkImpl{Interface: cs.EventsV1()}, func() bool { return true }, time.Millisecond, 50*time.Millisecond)
	start := time.Now()
	for i := range 20 {
		if _, err := sink.Create(context.Background(), &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("e", i), Namespace: "default"}}); err != nil {
			t.Fatal(err)
		}
	}
	// Waiting 50 ms each would take a second; the first wait is the only one.
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("20 events took %s behind bindings that never end, want about 50ms in all", took)
	}
}
