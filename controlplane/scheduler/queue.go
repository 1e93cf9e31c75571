package scheduler

import (
	"context"
	"slices"
	"sync"
	"time"
)

// clusterEvent is a kind of cluster change that may let a parked
// (unschedulable) pod fit.
type clusterEvent uint8

const (
	// eventNode: a node was added, or changed in a way the filters read
	// (allocatable, taints, labels, unschedulable, Ready).
	eventNode clusterEvent = 1 << iota
	// eventPodFreed: a bound or assumed pod was deleted or finished, or
	// shrank; resources, ports and anti-affinity terms are freed.
	eventPodFreed
	// eventPodAssigned: a pod was bound or relabelled; required pod
	// affinity may now find its peers.
	eventPodAssigned
	// eventNamespace: namespace labels changed (affinity namespaceSelector).
	eventNamespace
	// eventVolume: a claim, PersistentVolume or StorageClass was added or
	// changed.
	eventVolume
)

const numEvents = 5

// wakeOn returns the events that may lift the rejections of fit: node
// events always (a new node may fit), the others according to the filters
// that rejected nodes.
func wakeOn(fit *FitError) clusterEvent {
	mask := eventNode
	if fit.PreFilterMsg != "" {
		mask |= eventVolume
	}
	for _, reasons := range fit.NodeReasons {
		if len(reasons) == 0 {
			continue
		}
		switch reasons[0].Filter {
		case FilterNodeResourcesFit, FilterNodePorts:
			mask |= eventPodFreed
		case FilterInterPodAffinity:
			mask |= eventPodFreed | eventPodAssigned | eventNamespace
		case FilterVolumeBinding:
			mask |= eventVolume
		}
	}
	return mask
}

// place is where a pod key is in the queue.
type place uint8

const (
	placeActive   place = iota // waiting for the scheduling loop
	placeBackoff               // waiting for its backoff to expire
	placeParked                // unschedulable, waiting for a cluster event
	placeInFlight              // popped, being decided
	placeAssumed               // decided, binding in progress
)

// queued is the state of one pending pod.
type queued struct {
	where    place
	attempts int       // failed attempts so far
	last     time.Time // end of the last failed attempt
	readyAt  time.Time // placeBackoff: when it becomes active
	parkedAt time.Time // placeParked: since when
	wakeOn   clusterEvent
	dirty    bool  // the pod's spec changed while in flight
	priority int32 // the pod's; higher pops first
}

// ticket is what Pop hands out with a key: the event counters at that
// moment, so that Unschedulable notices events that happened during the
// attempt and would otherwise be missed.
type ticket [numEvents]uint64

// podQueue holds the keys (namespace/name) of pending pods: active ones in
// FIFO order, ones in backoff after a failure, and parked unschedulable ones
// that only a cluster event, a change of the pod or the periodic flush
// brings back. A key is in at most one place. It is safe for concurrent
// use; Pop has a single consumer, the scheduling loop.
type podQueue struct {
	mu        sync.Mutex
	now       func() time.Time
	initial   time.Duration
	maxDelay  time.Duration
	wake      chan struct{} // capacity 1: something became active
	active    []string      // may hold stale keys; Pop skips them
	pods      map[string]*queued
	backoff   map[string]*queued
	nextReady time.Time // earliest readyAt in backoff, zero if empty
	seq       ticket
}

func newPodQueue(initial, maxDelay time.Duration, now func() time.Time) *podQueue {
	return &podQueue{
		now: now, initial: initial, maxDelay: maxDelay,
		wake:    make(chan struct{}, 1),
		pods:    map[string]*queued{},
		backoff: map[string]*queued{},
	}
}

// Add queues a new pending pod of that priority; a pod already known stays
// where it is.
func (q *podQueue) Add(key string, priority int32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pods[key] == nil {
		q.pods[key] = &queued{priority: priority}
		q.activate(key, q.pods[key])
	}
}

// Updated tells that the pod's spec or labels changed: a parked pod is
// retried (after its backoff), one in flight is retried if it ends up
// parked.
func (q *podQueue) Updated(key string, priority int32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := q.pods[key]
	if st != nil {
		st.priority = priority
	}
	switch {
	case st == nil:
		q.pods[key] = &queued{priority: priority}
		q.activate(key, q.pods[key])
	case st.where == placeParked:
		q.retry(key, st)
	case st.where == placeInFlight:
		st.dirty = true
	}
}

// Delete forgets key: the pod is gone, bound, or no longer ours.
func (q *podQueue) Delete(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.pods, key)
	delete(q.backoff, key)
}

// Pop waits for an active key and marks it in flight. It returns false
// when ctx is done.
func (q *podQueue) Pop(ctx context.Context) (string, ticket, bool) {
	for {
		key, t, wait, ok := q.tryPop()
		if ok {
			return key, t, true
		}
		if !q.sleep(ctx, wait) {
			return "", ticket{}, false
		}
	}
}

// sleep waits for a signal, for wait if it is positive, or for ctx; it
// returns false when ctx is done.
func (q *podQueue) sleep(ctx context.Context, wait time.Duration) bool {
	var timeout <-chan time.Time
	if wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-q.wake:
	case <-timeout:
	}
	return true
}

// tryPop pops the active key of highest priority, the first queued among
// equals (kube-scheduler's PrioritySort), or tells how long until a
// backoff expires (0: nothing in backoff).
func (q *podQueue) tryPop() (string, ticket, time.Duration, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	q.promote(now)
	best := -1
	live := q.active[:0] // stale keys are dropped on the way
	for _, key := range q.active {
		st := q.pods[key]
		if st == nil || st.where != placeActive {
			continue
		}
		live = append(live, key)
		if best < 0 || st.priority > q.pods[live[best]].priority {
			best = len(live) - 1
		}
	}
	clear(q.active[len(live):])
	q.active = live
	if best >= 0 {
		key := q.active[best]
		q.active = slices.Delete(q.active, best, best+1)
		st := q.pods[key]
		st.where, st.dirty = placeInFlight, false
		return key, q.seq, 0, true
	}
	if q.nextReady.IsZero() {
		return "", ticket{}, 0, false
	}
	return "", ticket{}, max(q.nextReady.Sub(now), time.Millisecond), false
}

// Assumed marks key as decided: its binding is under way. Only Retry (the
// binding failed) or Delete (the informer saw it bound or gone) move it.
func (q *podQueue) Assumed(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if st := q.pods[key]; st != nil {
		st.where = placeAssumed
	}
}

// Retry puts key back after a failure that is not the pod's fault (an API
// error, a failed binding), after its backoff.
func (q *podQueue) Retry(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := q.pods[key]
	if st == nil {
		st = &queued{}
		q.pods[key] = st
	}
	st.attempts++
	st.last = q.now()
	q.retry(key, st)
}

// Unschedulable parks key until one of the events in mask happens, the pod
// changes, or Flush. If such an event happened since Pop handed out t, the
// key is retried after its backoff instead.
func (q *podQueue) Unschedulable(key string, t ticket, mask clusterEvent) {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := q.pods[key]
	if st == nil || st.where != placeInFlight {
		return
	}
	st.attempts++
	st.last = q.now()
	if st.dirty || q.happenedSince(t, mask) {
		q.retry(key, st)
		return
	}
	st.where, st.parkedAt, st.wakeOn = placeParked, st.last, mask
}

// Moved records a cluster event and retries the parked keys it may help.
func (q *podQueue) Moved(ev clusterEvent) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range numEvents {
		if ev&(1<<i) != 0 {
			q.seq[i]++
		}
	}
	for key, st := range q.pods {
		if st.where == placeParked && st.wakeOn&ev != 0 {
			q.retry(key, st)
		}
	}
}

// Flush retries the keys parked for at least age.
func (q *podQueue) Flush(age time.Duration) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	deadline := q.now().Add(-age)
	for key, st := range q.pods {
		if st.where == placeParked && !st.parkedAt.After(deadline) {
			q.retry(key, st)
			n++
		}
	}
	return n
}

// Len returns how many keys are in each place, for tests and logs.
func (q *podQueue) Len() map[place]int {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := map[place]int{}
	for _, st := range q.pods {
		out[st.where]++
	}
	return out
}

func (q *podQueue) happenedSince(t ticket, mask clusterEvent) bool {
	for i := range numEvents {
		if mask&(1<<i) != 0 && q.seq[i] != t[i] {
			return true
		}
	}
	return false
}

// retry moves st to backoff, or straight to active if its backoff is over.
func (q *podQueue) retry(key string, st *queued) {
	ready := st.last.Add(q.delay(st.attempts))
	if !ready.After(q.now()) {
		q.activate(key, st)
		return
	}
	st.where, st.readyAt = placeBackoff, ready
	q.backoff[key] = st
	if q.nextReady.IsZero() || ready.Before(q.nextReady) {
		q.nextReady = ready
		q.signal() // Pop may be sleeping until a later time
	}
}

// delay is the backoff after attempts failures.
func (q *podQueue) delay(attempts int) time.Duration {
	if attempts <= 0 {
		return 0
	}
	d := q.initial
	for i := 1; i < attempts && d < q.maxDelay; i++ {
		d *= 2
	}
	return min(d, q.maxDelay)
}

func (q *podQueue) activate(key string, st *queued) {
	delete(q.backoff, key)
	st.where = placeActive
	q.active = append(q.active, key)
	q.signal()
}

// promote activates the keys whose backoff is over.
func (q *podQueue) promote(now time.Time) {
	if q.nextReady.IsZero() || now.Before(q.nextReady) {
		return
	}
	q.nextReady = time.Time{}
	for key, st := range q.backoff {
		if !st.readyAt.After(now) {
			q.activate(key, st)
		} else if q.nextReady.IsZero() || st.readyAt.Before(q.nextReady) {
			q.nextReady = st.readyAt
		}
	}
}

func (q *podQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}
