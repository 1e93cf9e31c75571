package linkfault

import (
	"container/heap"
	"time"
)

// schedule is the delayer's timer queue: packets ordered by when they are due.
// Packets due at the same time leave in the order they came.
type schedule struct{ h pendingHeap }

type pending struct {
	id  uint32
	due time.Time
	seq uint64
}

func (s *schedule) add(id uint32, due time.Time) {
	heap.Push(&s.h, pending{id: id, due: due, seq: s.h.next})
	s.h.next++
}

func (s *schedule) len() int { return len(s.h.items) }

// next is when the earliest packet is due.
func (s *schedule) next() (time.Time, bool) {
	if len(s.h.items) == 0 {
		return time.Time{}, false
	}
	return s.h.items[0].due, true
}

// popDue removes and returns the packets due at now or before, earliest first.
func (s *schedule) popDue(now time.Time) []uint32 {
	var ids []uint32
	for len(s.h.items) > 0 && !s.h.items[0].due.After(now) {
		ids = append(ids, heap.Pop(&s.h).(pending).id)
	}
	return ids
}

// drain removes and returns every packet, earliest first.
func (s *schedule) drain() []uint32 {
	var ids []uint32
	for len(s.h.items) > 0 {
		ids = append(ids, heap.Pop(&s.h).(pending).id)
	}
	return ids
}

type pendingHeap struct {
	items []pending
	next  uint64
}

func (h *pendingHeap) Len() int { return len(h.items) }
func (h *pendingHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if a.due.Equal(b.due) {
		return a.seq < b.seq
	}
	return a.due.Before(b.due)
}
func (h *pendingHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *pendingHeap) Push(x any)    { h.items = append(h.items, x.(pending)) }
func (h *pendingHeap) Pop() any {
	last := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return last
}

// holdFor is how long one packet is held: delay, spread uniformly by jitter,
// never negative. r is uniform in [0, 1).
func holdFor(delay, jitter time.Duration, r float64) time.Duration {
	d := delay + time.Duration((2*r-1)*float64(jitter))
	return max(d, 0)
}
