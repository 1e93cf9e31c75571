package replicaset

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// expectationsTTL bounds how long a ReplicaSet waits for the watch to confirm
// the pods it created or deleted. A lost watch event must not freeze the
// ReplicaSet forever; after the TTL the next sync trusts the lister again.
const expectationsTTL = 5 * time.Minute

// expectations remembers, per ReplicaSet key, the pod creations and
// deletions the controller has asked for but not yet seen in its informer.
// While some are outstanding the lister is known to be stale, so sync must
// not act on the pod count (it would create or delete twice).
//
// Deletions are tracked by pod key, not by count, because a deleted pod is
// often observed twice (an update setting deletionTimestamp, then the
// delete): each pod must lower the count only once.
type expectations struct {
	clock clock.PassiveClock

	mu    sync.Mutex
	byKey map[string]*expectation
}

type expectation struct {
	adds      int
	deletions map[string]struct{} // pod keys still expected to disappear
	setAt     time.Time
}

func newExpectations(clk clock.PassiveClock) *expectations {
	return &expectations{clock: clk, byKey: map[string]*expectation{}}
}

// satisfied reports whether sync may trust the lister for key: nothing is
// outstanding, the record expired, or nothing was ever recorded.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.byKey[key]
	if !ok {
		return true
	}
	if x.adds <= 0 && len(x.deletions) == 0 {
		return true
	}
	return e.clock.Since(x.setAt) > expectationsTTL
}

// expectCreations records that n pods are about to be created for key,
// replacing any earlier (satisfied or expired) record.
func (e *expectations) expectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.byKey[key] = &expectation{adds: n, setAt: e.clock.Now()}
}

// expectDeletions records that the pods with these keys are about to be
// deleted for key, replacing any earlier record.
func (e *expectations) expectDeletions(key string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{deletions: map[string]struct{}{}, setAt: e.clock.Now()}
	for _, k := range podKeys {
		x.deletions[k] = struct{}{}
	}
	e.byKey[key] = x
}

// creationObserved lowers the creations expected for key by one: the
// informer saw a new pod, or a create call failed and will not be seen.
func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byKey[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// deletionObserved forgets podKey among the deletions expected for key; a
// pod that was not expected (or was already observed) changes nothing.
func (e *expectations) deletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byKey[key]; ok {
		delete(x.deletions, podKey)
	}
}

// forget drops the record of a ReplicaSet that no longer exists.
func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byKey, key)
}
