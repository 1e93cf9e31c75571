package linkfault

import (
	"slices"
	"testing"
	"time"
)

func TestScheduleReleasesEachPacketAtItsOwnTime(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var s schedule
	s.add(1, t0.Add(100*time.Millisecond))
	s.add(2, t0.Add(80*time.Millisecond)) // came later, due sooner (jitter)
	s.add(3, t0.Add(100*time.Millisecond))
	s.add(4, t0.Add(300*time.Millisecond))
	if next, _ := s.next(); !next.Equal(t0.Add(80 * time.Millisecond)) {
		t.Errorf("next = %v, want the earliest due", next.Sub(t0))
	}
	if got := s.popDue(t0.Add(50 * time.Millisecond)); len(got) != 0 {
		t.Errorf("at 50ms released %v, want none", got)
	}
	if got := s.popDue(t0.Add(100 * time.Millisecond)); !slices.Equal(got, []uint32{2, 1, 3}) {
		t.Errorf("at 100ms released %v, want [2 1 3] (equal times in arrival order)", got)
	}
	if got := s.drain(); !slices.Equal(got, []uint32{4}) || s.len() != 0 {
		t.Errorf("drain = %v, left %d", got, s.len())
	}
	if _, ok := s.next(); ok {
		t.Error("an empty schedule has a next time")
	}
}

func TestHoldFor(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		delay, jitter time.Duration
		r             float64
		want          time.Duration
	}{
		{100 * ms, 0, 0.7, 100 * ms},
		{100 * ms, 20 * ms, 0, 80 * ms},
		{100 * ms, 20 * ms, 0.5, 100 * ms},
		{100 * ms, 20 * ms, 0.75, 110 * ms},
		{10 * ms, 10 * ms, 0, 0},
	} {
		if got := holdFor(c.delay, c.jitter, c.r); got != c.want {
			t.Errorf("holdFor(%v, %v, %v) = %v, want %v", c.delay, c.jitter, c.r, got, c.want)
		}
	}
}
