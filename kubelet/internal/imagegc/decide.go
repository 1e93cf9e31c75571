package imagegc

import (
	"sort"
	"time"

	"github.com/kinns/kinns/kubelet/runtime"
)

// Policy is the image GC policy: thresholds in percent of the filesystem's
// size in use, and the age under which an unused image is kept.
type Policy struct {
	High, Low int
	MinAge    time.Duration
}

// Disk is the filesystem's size and what is available to unprivileged use
// (statfs f_blocks and f_bavail, in bytes).
type Disk struct {
	Capacity, Available int64
}

// UsagePercent is upstream's: 100 - available*100/capacity.
func (d Disk) UsagePercent() int {
	if d.Capacity <= 0 {
		return 0
	}
	return 100 - int(min(d.Available, d.Capacity)*100/d.Capacity)
}

// Candidate is an image and what the kubelet knows of its use.
type Candidate struct {
	runtime.StoredImage
	// InUse: a container of the namespace is made from it (or from another
	// name of the same digest).
	InUse bool
	// LastUsed is when the kubelet last saw a container use it; zero if
	// never, and then it counts from Created.
	LastUsed time.Time
}

// lastUse orders candidates: when last used, or created if never used.
func (c Candidate) lastUse() time.Time {
	if c.LastUsed.After(c.Created) {
		return c.LastUsed
	}
	return c.Created
}

// Decision is what one pass of image GC should do.
type Decision struct {
	// Usage is the filesystem's usage in percent; Collect says it is at
	// or over the high threshold.
	Usage   int
	Collect bool
	// ToFree is how many bytes would bring usage under the low threshold.
	ToFree int64
	// Remove are the images to remove, in order: least recently used
	// first, until their sizes add up to ToFree (or all that may go).
	Remove []Candidate
	// Freed is the sum of their sizes.
	Freed int64
}

// Decide says which images to remove: none under the high threshold; else
// unused, unpinned images at least MinAge old, least recently used first
// (ties: older first, then by name), until their sizes cover ToFree.
func Decide(p Policy, d Disk, images []Candidate, now time.Time) Decision {
	dec := Decision{Usage: d.UsagePercent()}
	if d.Capacity <= 0 || dec.Usage < p.High {
		return dec
	}
	dec.Collect = true
	dec.ToFree = d.Capacity*int64(100-p.Low)/100 - d.Available
	for _, c := range eligible(p, images, now) {
		if dec.Freed >= dec.ToFree {
			break
		}
		dec.Remove = append(dec.Remove, c)
		dec.Freed += c.Size
	}
	return dec
}

// eligible are the images that may go, in the order they should.
func eligible(p Policy, images []Candidate, now time.Time) []Candidate {
	var out []Candidate
	for _, c := range images {
		if c.InUse || c.Pinned || now.Sub(c.Created) < p.MinAge {
			continue
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.lastUse().Equal(b.lastUse()) {
			return a.lastUse().Before(b.lastUse())
		}
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		return a.Name < b.Name
	})
	return out
}

// InUse marks the images containers are made from (containerImages: the
// image name of each container): by name, and every other name of a digest
// in use, as upstream counts use by image ID.
func InUse(images []runtime.StoredImage, containerImages []string) map[string]bool {
	used := map[string]bool{}
	for _, name := range containerImages {
		used[name] = true
	}
	digests := map[string]bool{}
	for _, img := range images {
		if used[img.Name] {
			digests[img.Digest] = true
		}
	}
	out := map[string]bool{}
	for _, img := range images {
		if used[img.Name] || digests[img.Digest] {
			out[img.Name] = true
		}
	}
	return out
}
