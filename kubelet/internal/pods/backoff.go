package pods

import (
	"sync"
	"time"
)

// restartBackoff spaces the restarts of crashing containers (and the retries of
// failed image pulls) as the kubelet does: the first restart is at once,
// then each waits twice as long as the one before, from Initial up to Max.
// A key whose last restart is older than Reset (a container that ran that
// long, or was left alone that long) starts over. It is safe for concurrent
// use.
type restartBackoff struct {
	Initial, Max, Reset time.Duration

	mu      sync.Mutex
	entries map[string]backoffEntry
}

type backoffEntry struct {
	delay time.Duration
	last  time.Time
}

// newRestartBackoff makes a restartBackoff; reset 0 means 2*max, upstream's rule.
func newRestartBackoff(initial, max, reset time.Duration) *restartBackoff {
	if reset == 0 {
		reset = 2 * max
	}
	return &restartBackoff{Initial: initial, Max: max, Reset: reset, entries: map[string]backoffEntry{}}
}

// Remaining is how long a restart of key, whose last run ended at finished,
// must still wait at now; 0 means it may go.
func (b *restartBackoff) Remaining(key string, finished, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || finished.Sub(e.last) > b.Reset {
		return 0
	}
	if d := finished.Add(e.delay).Sub(now); d > 0 {
		return d
	}
	return 0
}

// Delay is the wait that the next restart of key will have, for messages.
func (b *restartBackoff) Delay(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.entries[key]; ok {
		return e.delay
	}
	return 0
}

// Next records a restart of key at now: the one after waits longer.
func (b *restartBackoff) Next(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || now.Sub(e.last) > b.Reset {
		b.entries[key] = backoffEntry{delay: b.Initial, last: now}
		return
	}
	b.entries[key] = backoffEntry{delay: min(2*e.delay, b.Max), last: now}
}

// Forget drops every key with this prefix (a pod's, when it goes away).
func (b *restartBackoff) Forget(prefix string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.entries {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(b.entries, k)
		}
	}
}
