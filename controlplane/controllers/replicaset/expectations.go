package replicaset

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
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
//
// A record belongs to one ReplicaSet object, by UID: a ReplicaSet deleted
// and created again under the same name (a Deployment of the same name and
// template, recreated) must not inherit what was expected for the old one.
// The old one's pods resolve to no ReplicaSet, so its creations would never
// be observed, and the new one would not act until the TTL.
type expectations struct {
	clock clock.PassiveClock

	mu    sync.Mutex
	byKey map[string]*expectation
}

type expectation struct {
	uid       types.UID // the ReplicaSet the record is for
	adds      int
	deletions map[string]struct{} // pod keys still expected to disappear
	setAt     time.Time
}

func newExpectations(clk clock.PassiveClock) *expectations {
	return &expectations{clock: clk, byKey: map[string]*expectation{}}
}

// satisfied reports whether sync may trust the lister for the ReplicaSet
// key with uid: nothing is outstanding, the record expired, nothing was ever
// recorded, or the record is an earlier ReplicaSet's of the same name (it is
// dropped).
func (e *expectations) satisfied(key string, uid types.UID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.byKey[key]
	if !ok {
		return true
	}
	if x.uid != uid {
		delete(e.byKey, key)
		return true
	}
	if x.adds <= 0 && len(x.deletions) == 0 {
		return true
	}
	return e.clock.Since(x.setAt) > expectationsTTL
}

// expectCreations records that n pods are about to be created for the
// ReplicaSet key with uid, replacing any earlier (satisfied or expired)
// record.
func (e *expectations) expectCreations(key string, uid types.UID, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.byKey[key] = &expectation{uid: uid, adds: n, setAt: e.clock.Now()}
}

// expectDeletions records that the pods with these keys are about to be
// deleted for the ReplicaSet key with uid, replacing any earlier record.
func (e *expectations) expectDeletions(key string, uid types.UID, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{uid: uid, deletions: map[string]struct{}{}, setAt: e.clock.Now()}
	for _, k := range podKeys {
		x.deletions[k] = struct{}{}
	}
	e.byKey[key] = x
}

// creationObserved lowers the creations expected for the ReplicaSet key
// with uid by one: the informer saw a new pod, or a create call failed and
// will not be seen.
func (e *expectations) creationObserved(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byKey[key]; ok && x.uid == uid && x.adds > 0 {
		x.adds--
	}
}

// deletionObserved forgets podKey among the deletions expected for the
// ReplicaSet key with uid; a pod that was not expected (or was already
// observed) changes nothing.
func (e *expectations) deletionObserved(key string, uid types.UID, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byKey[key]; ok && x.uid == uid {
		delete(x.deletions, podKey)
	}
}

// forget drops the record of a ReplicaSet that no longer exists.
func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byKey, key)
}
