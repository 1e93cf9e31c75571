package linkfault

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

// rateUnits are tc's units: bits per second, and bytes per second for *bps.
var rateUnits = []struct {
	name string
	bits uint64
}{
	{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1},
	{"gbps", 8e9}, {"mbps", 8e6}, {"kbps", 8e3}, {"bps", 8},
}

var rateRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)([a-z]+)$`)

// ParseRate reads a rate as tc writes it ("1mbit", "512kbit", "2mbps" for
// bytes) and returns bits per second.
func ParseRate(s string) (uint64, error) {
	m := rateRE.FindStringSubmatch(strings.ToLower(s))
	if m == nil {
		return 0, invalid("rate must be a number and a unit (bit, kbit, mbit, gbit; bps, kbps, mbps, gbps for bytes), such as 1mbit, not %q", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, invalid("rate number %q: %v", m[1], err)
	}
	for _, u := range rateUnits {
		if u.name == m[2] {
			bits := n * float64(u.bits)
			if bits > MaxRate {
				return 0, invalid("rate must be between %s and %s, not %s", FormatRate(MinRate), FormatRate(MaxRate), s)
			}
			return uint64(math.Round(bits)), nil
		}
	}
	return 0, invalid("unknown rate unit %q in %q: use bit, kbit, mbit, gbit, or bps, kbps, mbps, gbps for bytes", m[2], s)
}

// FormatRate writes bits per second in the largest bit unit that keeps it whole.
func FormatRate(bits uint64) string {
	for _, u := range rateUnits[:4] {
		if bits >= u.bits && bits%u.bits == 0 {
			return strconv.FormatUint(bits/u.bits, 10) + u.name
		}
	}
	return strconv.FormatUint(bits, 10) + "bit"
}

// tbf is the token bucket that limits one direction of a link.
type tbf struct {
	Rate   uint64 // bytes per second
	Burst  uint32 // bytes sent at line rate before the bucket runs dry
	Limit  uint32 // bytes queued before packets are dropped
	Buffer uint32 // Burst as the kernel wants it: time to send it, in ticks
}

// Bucket sizing: at least a few full frames of burst (a frame larger than the
// bucket would never pass), else 10 ms of traffic; a queue of 100 ms on top.
const (
	minBurst   = 4096
	burstTime  = 10 // ms
	queueTime  = 100
	nsPerTick  = 64 // the kernel's psched tick (PSCHED_SHIFT 6), fixed since 2.6.31
	nsPerSec   = 1_000_000_000
	msPerSec   = 1000
	maxUint32b = math.MaxUint32
)

// tbfFor sizes a token bucket for a rate in bits per second.
func tbfFor(bits uint64) tbf {
	rate := bits / 8
	burst := max(rate*burstTime/msPerSec, minBurst)
	limit := burst + rate*queueTime/msPerSec
	ticks := burst * nsPerSec / rate / nsPerTick
	return tbf{
		Rate:   rate,
		Burst:  uint32(min(burst, maxUint32b)),
		Limit:  uint32(min(limit, maxUint32b)),
		Buffer: uint32(min(ticks, maxUint32b)),
	}
}
