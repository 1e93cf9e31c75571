package linkfault

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// fakeIPTables keeps one mangle dump per namespace and records restores.
type fakeIPTables struct {
	saved    map[string]string
	restored []string
}

func (f *fakeIPTables) Save(_ context.Context, ns, table string) ([]byte, error) {
	return []byte(f.saved[ns]), nil
}

func (f *fakeIPTables) Restore(_ context.Context, ns string, text []byte) error {
	f.restored = append(f.restored, ns+":\n"+string(text))
	return nil
}

// fakeNetlink keeps each link's up state and root qdisc.
type fakeNetlink struct {
	up    map[string]bool
	root  map[string]Qdisc
	netem bool // the kernel has netem
	fail  map[string]error
}

func newFakeNetlink() *fakeNetlink {
	return &fakeNetlink{up: map[string]bool{}, root: map[string]Qdisc{}, fail: map[string]error{}}
}

func key(ns, link string) string { return ns + "/" + link }

func (f *fakeNetlink) SetLinkUp(ns, link string, up bool) error {
	f.up[key(ns, link)] = up
	return nil
}

func (f *fakeNetlink) Root(ns, link string) (Qdisc, error) {
	q, ok := f.root[key(ns, link)]
	if !ok {
		return Qdisc{Kind: "noqueue"}, nil
	}
	return q, nil
}

func (f *fakeNetlink) ReplaceRoot(ns, link string, q Qdisc) error {
	if err := f.fail[key(ns, link)]; err != nil {
		return err
	}
	if q.Kind == "netem" && !f.netem {
		return fmt.Errorf("netem: %w", ErrNotSupported)
	}
	f.root[key(ns, link)] = q
	return nil
}

func (f *fakeNetlink) DeleteRoot(ns, link string, handle uint32) error {
	delete(f.root, key(ns, link))
	return nil
}

// fakeQueue is a queue whose packets the test pushes, and whose verdicts it
// reads with the time they were given.
type fakeQueue struct {
	in       chan []uint32
	mu       sync.Mutex
	accepted map[uint32]time.Time
	deadline chan struct{}
	once     sync.Once
}

func newFakeQueue() *fakeQueue {
	return &fakeQueue{in: make(chan []uint32), accepted: map[uint32]time.Time{}, deadline: make(chan struct{})}
}

func (q *fakeQueue) Read() ([]uint32, error) {
	select {
	case ids := <-q.in:
		return ids, nil
	case <-q.deadline:
		return nil, fmt.Errorf("deadline")
	}
}

func (q *fakeQueue) Accept(ids []uint32) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, id := range ids {
		q.accepted[id] = time.Now()
	}
	return nil
}

func (q *fakeQueue) SetReadDeadline(time.Time) error {
	q.once.Do(func() { close(q.deadline) })
	return nil
}

func (q *fakeQueue) acceptedCount() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.accepted)
}
