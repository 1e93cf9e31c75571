package imagegc

import (
	"slices"
	"testing"
	"time"

	"github.com/kinns/kinns/kubelet/runtime"
)

var t0 = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

const gib = int64(1) << 30

func img(name string, size int64, created time.Time) Candidate {
	return Candidate{StoredImage: runtime.StoredImage{Name: name, Digest: "sha256:" + name, Size: size, Created: created}}
}

func names(cs []Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

var policy = Policy{High: 85, Low: 80, MinAge: 2 * time.Minute}

func TestUnderTheHighThresholdNothingGoes(t *testing.T) {
	d := Disk{Capacity: 100 * gib, Available: 16 * gib} // 84 %
	dec := Decide(policy, d, []Candidate{img("old", gib, t0.Add(-time.Hour))}, t0)
	if dec.Collect || len(dec.Remove) != 0 || dec.Usage != 84 {
		t.Fatalf("%+v", dec)
	}
}

func TestLeastRecentlyUsedFirstUntilUnderLow(t *testing.T) {
	d := Disk{Capacity: 100 * gib, Available: 15 * gib} // 85 %: free 5 GiB to reach 80 %
	used := img("used-long-ago", 3*gib, t0.Add(-3*time.Hour))
	used.LastUsed = t0.Add(-2 * time.Hour)
	never := img("never-used", 2*gib, t0.Add(-90*time.Minute)) // counts from its creation
	recent := img("used-recently", 4*gib, t0.Add(-4*time.Hour))
	recent.LastUsed = t0.Add(-time.Minute)
	last := img("spare", gib, t0.Add(-5*time.Hour))
	last.LastUsed = t0.Add(-30 * time.Second)
	dec := Decide(policy, d, []Candidate{last, recent, never, used}, t0)
	if !dec.Collect || dec.ToFree != 5*gib {
		t.Fatalf("collect %v, to free %d", dec.Collect, dec.ToFree)
	}
	if got := names(dec.Remove); !slices.Equal(got, []string{"used-long-ago", "never-used"}) {
		t.Fatalf("removes %v, want the two least recently used (5 GiB)", got)
	}
	if dec.Freed != 5*gib {
		t.Errorf("freed %d", dec.Freed)
	}
}

func TestNeverInUsePinnedOrYoung(t *testing.T) {
	d := Disk{Capacity: 100 * gib, Available: 0}
	inUse := img("in-use", gib, t0.Add(-time.Hour))
	inUse.InUse = true
	pinned := img("kinns.local/testapp:latest", gib, t0.Add(-time.Hour))
	pinned.Pinned = true
	young := img("just-pulled", gib, t0.Add(-time.Minute))
	old := img("old", gib, t0.Add(-time.Hour))
	dec := Decide(policy, d, []Candidate{inUse, pinned, young, old}, t0)
	if got := names(dec.Remove); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("removes %v, want only the old unused one", got)
	}
	if dec.Freed >= dec.ToFree {
		t.Errorf("freed %d of %d: it cannot have freed enough", dec.Freed, dec.ToFree)
	}
}

func TestLowZeroFreesEverythingEligible(t *testing.T) {
	d := Disk{Capacity: 100, Available: 98} // 2 %, over a high of 1 %
	dec := Decide(Policy{High: 1, Low: 0}, d, []Candidate{img("a", 1, t0), img("b", 1, t0)}, t0)
	if dec.ToFree != 2 || !slices.Equal(names(dec.Remove), []string{"a", "b"}) {
		t.Fatalf("%+v", dec)
	}
}

func TestTiesGoOlderFirstThenByName(t *testing.T) {
	d := Disk{Capacity: 100, Available: 0}
	dec := Decide(Policy{High: 50, Low: 0}, d, []Candidate{img("b", 1, t0), img("a", 1, t0), img("c", 1, t0.Add(-time.Second))}, t0)
	if got := names(dec.Remove); !slices.Equal(got, []string{"c", "a", "b"}) {
		t.Fatalf("order %v", got)
	}
}

func TestNoCapacityNoCollection(t *testing.T) {
	if dec := Decide(policy, Disk{}, []Candidate{img("a", 1, t0)}, t0); dec.Collect {
		t.Fatal("collected on a filesystem of size 0")
	}
}

func TestInUseByNameAndDigest(t *testing.T) {
	imgs := []runtime.StoredImage{
		{Name: "a:1", Digest: "sha256:1"},
		{Name: "a:also", Digest: "sha256:1"}, // another name of a:1
		{Name: "b:1", Digest: "sha256:2"},
	}
	got := InUse(imgs, []string{"a:1", "not-an-image:present"})
	if !got["a:1"] || !got["a:also"] || got["b:1"] {
		t.Fatalf("in use: %v", got)
	}
}
