package scheduler

import (
	"context"
	"slices"
	"testing"
	"time"
)

// fakeQueue is a podQueue on a clock the test moves: backoff 1s..8s.
func fakeQueue() (*podQueue, *time.Time) {
	now := time.Unix(1000, 0)
	return newPodQueue(time.Second, 8*time.Second, func() time.Time { return now }), &now
}

// pop pops without waiting; "" when nothing is active, with the wait.
func pop(q *podQueue) (string, ticket, time.Duration) {
	key, t, wait, _ := q.tryPop()
	return key, t, wait
}

func TestQueueFIFOAndDedup(t *testing.T) {
	q, _ := fakeQueue()
	q.Add("a", 0)
	q.Add("b", 0)
	q.Add("a", 0)
	for _, want := range []string{"a", "b", ""} {
		if got, _, _ := pop(q); got != want {
			t.Fatalf("pop = %q, want %q", got, want)
		}
	}
	q.Add("a", 0) // in flight: stays there
	if got, _, _ := pop(q); got != "" {
		t.Fatalf("a popped twice: %q", got)
	}
}

func TestQueueParksUntilRelevantEvent(t *testing.T) {
	q, now := fakeQueue()
	q.Add("a", 0)
	key, tk, _ := pop(q)
	q.Unschedulable(key, tk, eventNode|eventPodFreed)
	q.Moved(eventPodAssigned)
	*now = now.Add(time.Hour)
	if got, _, _ := pop(q); got != "" {
		t.Fatalf("an unrelated event woke %q", got)
	}
	q.Moved(eventPodFreed)
	if got, _, _ := pop(q); got != "a" {
		t.Fatalf("pop after a relevant event = %q, want a", got)
	}
}

func TestQueueBackoffAfterEvent(t *testing.T) {
	q, now := fakeQueue()
	q.Add("a", 0)
	for attempt, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		key, tk, _ := pop(q)
		if key != "a" {
			t.Fatalf("attempt %d: pop = %q", attempt, key)
		}
		q.Unschedulable(key, tk, eventNode)
		q.Moved(eventNode) // right away: the backoff still holds it
		got, _, wait := pop(q)
		if got != "" || wait != want {
			t.Fatalf("attempt %d: pop = %q, wait %v; want nothing for %v", attempt, got, wait, want)
		}
		*now = now.Add(wait)
	}
}

// An event during the attempt is not lost: the pod is retried, not parked.
func TestQueueEventDuringAttempt(t *testing.T) {
	q, now := fakeQueue()
	q.Add("a", 0)
	key, tk, _ := pop(q)
	q.Moved(eventNode) // the attempt did not see this node
	q.Unschedulable(key, tk, eventNode)
	*now = now.Add(time.Second)
	if got, _, _ := pop(q); got != "a" {
		t.Fatalf("pop = %q, want a retried", got)
	}
}

func TestQueueUpdatedPod(t *testing.T) {
	q, now := fakeQueue()
	q.Add("a", 0)
	key, tk, _ := pop(q)
	q.Updated("a", 0) // while in flight
	q.Unschedulable(key, tk, eventNode)
	*now = now.Add(time.Second)
	key, tk, _ = pop(q)
	if key != "a" {
		t.Fatalf("pod updated in flight: pop = %q, want a", key)
	}
	q.Unschedulable(key, tk, 0)
	q.Moved(eventNode | eventPodFreed | eventPodAssigned | eventNamespace)
	*now = now.Add(time.Hour)
	if got, _, _ := pop(q); got != "" {
		t.Fatalf("a pod parked for its own fault woke on a cluster event: %q", got)
	}
	q.Updated("a", 0)
	if got, _, _ := pop(q); got != "a" {
		t.Fatalf("parked pod updated: pop = %q, want a", got)
	}
}

func TestQueueFlush(t *testing.T) {
	q, now := fakeQueue()
	park := func(k string) {
		q.Add(k, 0)
		key, tk, _ := pop(q)
		q.Unschedulable(key, tk, eventNode)
	}
	park("old")
	*now = now.Add(40 * time.Second)
	park("new")
	*now = now.Add(10 * time.Second)
	if n := q.Flush(time.Minute); n != 0 {
		t.Fatalf("flushed %d pods parked for less than a minute", n)
	}
	*now = now.Add(10 * time.Second)
	if n := q.Flush(time.Minute); n != 1 {
		t.Fatalf("flushed %d, want 1", n)
	}
	if got, _, _ := pop(q); got != "old" {
		t.Fatalf("pop = %q, want old", got)
	}
}

func TestQueueDeleteAndAssumed(t *testing.T) {
	q, now := fakeQueue()
	q.Add("gone", 0)
	q.Add("bound", 0)
	q.Delete("gone")
	key, _, _ := pop(q)
	if key != "bound" {
		t.Fatalf("pop = %q, want bound", key)
	}
	q.Assumed(key)
	q.Add(key, 0)
	q.Moved(eventNode)
	if got, _, _ := pop(q); got != "" {
		t.Fatalf("an assumed pod was popped again: %q", got)
	}
	q.Retry(key) // the binding failed
	*now = now.Add(time.Second)
	if got, _, _ := pop(q); got != "bound" {
		t.Fatalf("pop after Retry = %q, want bound", got)
	}
}

func TestQueuePopWaitsForBackoffAndContext(t *testing.T) {
	q := newPodQueue(30*time.Millisecond, time.Second, time.Now)
	q.Retry("a")
	start := time.Now()
	key, _, ok := q.Pop(context.Background())
	if !ok || key != "a" {
		t.Fatalf("Pop = %q, %v", key, ok)
	}
	if waited := time.Since(start); waited < 25*time.Millisecond {
		t.Errorf("Pop returned after %v, before the backoff", waited)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, ok := q.Pop(ctx); ok {
		t.Error("Pop on an empty queue returned a key")
	}
}

// The active pod of highest priority pops first; equals keep their order.
func TestQueuePriority(t *testing.T) {
	q, _ := fakeQueue()
	q.Add("low", 1)
	q.Add("first", 5)
	q.Add("high", 100)
	q.Add("second", 5)
	var got []string
	for range 4 {
		key, _, _ := pop(q)
		got = append(got, key)
	}
	if want := []string{"high", "first", "second", "low"}; !slices.Equal(got, want) {
		t.Errorf("popped %v, want %v", got, want)
	}
}
