package nodelifecycle

// Mode is how much of the cluster looks unhealthy, which decides how bold
// the controller may be.
type Mode int

const (
	// Normal: silent nodes are marked Unknown, unhealthy nodes tainted and
	// their pods evicted.
	Normal Mode = iota
	// PartialDisruption: more than two nodes and at least UnhealthyFraction
	// of them are unhealthy. Upstream stops evicting in a small cluster in
	// this state; so do we: nothing is marked, tainted or evicted.
	PartialDisruption
	// FullDisruption: every judged node is unhealthy, which looks like a
	// network or control-plane problem rather than node failures. Nothing is
	// marked, tainted or evicted; leaving it gives every node a fresh grace
	// period.
	FullDisruption
	// Blind: no heartbeat from any node for BlindAfter. The controller's own
	// view is stale (API server or etcd outage, cut watch), so it judges no
	// node; leaving it gives every node a fresh grace period.
	Blind
)

func (m Mode) String() string {
	switch m {
	case Normal:
		return "normal"
	case PartialDisruption:
		return "partial-disruption"
	case FullDisruption:
		return "full-disruption"
	case Blind:
		return "blind"
	}
	return "unknown"
}

// disrupted modes add no taint, write no status and evict nothing because of
// the unreachable and not-ready taints; they still remove the taints of
// nodes that are healthy again.
func (m Mode) disrupted() bool { return m != Normal }

// resets says whether leaving m restarts every node's grace period: after a
// time when heartbeats could not be seen, the last ones seen say nothing.
func (m Mode) resets() bool { return m == Blind || m == FullDisruption }
