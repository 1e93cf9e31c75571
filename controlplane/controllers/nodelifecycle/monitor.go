package nodelifecycle

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// verdict is one pass's judgement of one node.
type verdict struct {
	node  *corev1.Node
	stale bool // no heartbeat within its grace period
	// ready is the Ready status the node should have: Unknown when stale,
	// otherwise what it reports; "" for a node that never reported and is
	// still within its startup grace (no judgement yet).
	ready corev1.ConditionStatus
}

// Monitor is one pass: observe heartbeats, judge every node, decide the
// disruption mode, then write statuses, taints and evictions as the mode
// allows. Errors are logged and retried on the next pass.
func (c *Controller) Monitor(ctx context.Context) {
	now := c.clock.Now()
	nodes := c.refresh()
	verdicts, mode := c.assess(nodes, now)
	for _, v := range verdicts {
		c.handle(ctx, v, mode, now)
	}
	c.evict(ctx, mode, now)
}

// assess judges the nodes and sets the mode; on leaving Blind or
// FullDisruption it restarts every grace period and judges again.
func (c *Controller) assess(nodes []*corev1.Node, now time.Time) ([]verdict, Mode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	vs, mode := c.judge(nodes, now)
	prev := c.mode
	if prev.resets() && !mode.resets() {
		for _, h := range c.health {
			h.probe = now
		}
		vs, mode = c.judge(nodes, now)
	}
	if mode != prev {
		c.log.Warn("disruption mode changed", "from", prev.String(), "to", mode.String(), "nodes", len(nodes))
	}
	c.mode = mode
	return vs, mode
}

// judge must be called with c.mu held.
func (c *Controller) judge(nodes []*corev1.Node, now time.Time) ([]verdict, Mode) {
	vs := make([]verdict, 0, len(nodes))
	judged, unhealthy := 0, 0
	for _, n := range nodes {
		v := verdict{node: n}
		r := readyCondition(n)
		grace := c.opts.GracePeriod
		if r == nil {
			grace = c.opts.StartupGracePeriod
		} else {
			v.ready = r.Status
		}
		if h := c.health[n.Name]; h != nil && now.Sub(h.probe) > grace {
			v.stale, v.ready = true, corev1.ConditionUnknown
		}
		if v.ready != "" {
			judged++
			if v.ready != corev1.ConditionTrue {
				unhealthy++
			}
		}
		vs = append(vs, v)
	}
	return vs, c.modeFor(judged, unhealthy, now)
}

func (c *Controller) modeFor(judged, unhealthy int, now time.Time) Mode {
	switch {
	case judged > 0 && now.Sub(c.lastAlive) > c.opts.BlindAfter:
		return Blind
	case judged > 0 && unhealthy == judged:
		return FullDisruption
	case unhealthy > 2 && float64(unhealthy) >= c.opts.UnhealthyFraction*float64(judged):
		return PartialDisruption
	}
	return Normal
}

// handle writes what the verdict calls for: the Unknown status and pod
// readiness (Normal mode only), then the owned taints.
func (c *Controller) handle(ctx context.Context, v verdict, mode Mode, now time.Time) {
	node := v.node
	if !mode.disrupted() && v.ready == corev1.ConditionUnknown {
		if v.stale && !isUnknown(node) {
			updated, err := c.markUnknown(ctx, node, now)
			if err != nil {
				c.log.Info("mark node unknown", "node", node.Name, "err", err)
				return
			}
			node = updated
		}
		c.markPodsNotReady(ctx, node.Name, now)
	}
	if v.ready == "" || (mode.disrupted() && v.ready != corev1.ConditionTrue) {
		return
	}
	if err := c.setTaints(ctx, node, v.ready, !mode.disrupted(), now); err != nil {
		c.log.Info("update node taints", "node", node.Name, "err", err)
	}
}

func isUnknown(n *corev1.Node) bool {
	r := readyCondition(n)
	return r != nil && r.Status == corev1.ConditionUnknown
}
