package config

import (
	"fmt"
	"time"
)

// Upstream's image garbage collection defaults (KubeletConfiguration's
// imageGCHighThresholdPercent, imageGCLowThresholdPercent,
// imageMinimumGCAge), and the period of its checks.
const (
	DefaultImageGCHighThresholdPercent = 85
	DefaultImageGCLowThresholdPercent  = 80
	DefaultImageMinimumGCAge           = 2 * time.Minute
	DefaultImageGCPeriod               = 5 * time.Minute
)

// ImageGC is when the kubelet removes images no container uses, as
// upstream: when the disk that holds the images is HighThresholdPercent
// full or more, it removes unused images, least recently used first and none
// younger than Timings.ImageMinimumGCAge, until it is under
// LowThresholdPercent, checking every Timings.ImageGCPeriod.
type ImageGC struct {
	// HighThresholdPercent (default 85; 100 turns image GC off) and
	// LowThresholdPercent (default 80) are percentages of the filesystem's
	// size in use, counted as upstream counts them: 100 - available*100/size,
	// so blocks reserved for root count as used.
	HighThresholdPercent, LowThresholdPercent *int32 `json:",omitempty"`
	// FS is a folder on the filesystem that holds containerd's content and
	// snapshots (the daemon's root), measured with statfs. Empty: no image GC
	// (a containerd whose root the harness does not know).
	FS string `json:",omitempty"`
}

// High and Low are the thresholds, defaults filled in.
func (g ImageGC) High() int32 {
	return orInt32(g.HighThresholdPercent, DefaultImageGCHighThresholdPercent)
}
func (g ImageGC) Low() int32 {
	return orInt32(g.LowThresholdPercent, DefaultImageGCLowThresholdPercent)
}

// Enabled reports whether the kubelet collects images at all.
func (g ImageGC) Enabled() bool { return g.FS != "" && g.High() < 100 }

// Validate checks the thresholds as upstream does.
func (g ImageGC) Validate() error {
	high, low := g.High(), g.Low()
	switch {
	case high < 0 || high > 100:
		return fmt.Errorf("kubelet config: image GC high threshold %d%% is not within 0-100", high)
	case low < 0 || low > 100:
		return fmt.Errorf("kubelet config: image GC low threshold %d%% is not within 0-100", low)
	case low > high:
		return fmt.Errorf("kubelet config: image GC low threshold %d%% is above the high threshold %d%%", low, high)
	}
	return nil
}

func orInt32(p *int32, d int32) int32 {
	if p == nil {
		return d
	}
	return *p
}
