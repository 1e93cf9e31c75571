package cloud

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"

	"github.com/kinns/kinns/controlplane/controllers/leader"
)

// router keeps the fabric's routes what the provider's balancers, the
// nodes and their health checks call for.
type router struct {
	provider   *Provider
	fabric     Fabric
	nodes      corelisters.NodeLister
	checker    *checker
	healthPort int
	interval   time.Duration
	log        *slog.Logger
	wake       chan struct{}

	mu   sync.Mutex // one sync at a time
	last map[netip.Addr][]netip.Addr
}

func newRouter(p *Provider, f Fabric, nodes corelisters.NodeLister, c *checker, healthPort int, interval time.Duration, log *slog.Logger) *router {
	r := &router{provider: p, fabric: f, nodes: nodes, checker: c, healthPort: healthPort, interval: interval, log: log, wake: make(chan struct{}, 1)}
	p.sync, p.nudge = r.sync, r.nudgeSoon
	return r
}

func (r *router) nudgeSoon() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run checks the nodes and syncs at once, then every interval, and syncs
// at once when nudged, until ctx ends.
func (r *router) run(ctx context.Context) {
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	check := true
	for {
		if check {
			r.checker.run(ctx, Checks(r.provider.Balancers(), r.nodeStates(), r.healthPort))
		}
		if err := r.sync(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("route load balancer addresses", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			check = true
		case <-r.wake:
			check = false
		}
	}
}

// sync routes the fabric as the balancers call for now. Only the leader
// routes: a term past its deadline touches nothing.
func (r *router) sync(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !leader.Acting(ctx) {
		return leader.ErrNotLeader
	}
	want := Routes(r.provider.Balancers(), r.nodeStates(), r.healthPort, r.checker.failed)
	if err := r.fabric.Sync(ctx, want); err != nil {
		return err
	}
	if !sameRoutes(r.last, want) {
		r.log.Info("load balancer routes", "routes", routesAttr(want))
		r.last = want
	}
	return nil
}

// nodeStates reads the nodes' readiness and fabric addresses.
func (r *router) nodeStates() map[string]NodeState {
	nodes, err := r.nodes.List(labels.Everything())
	if err != nil {
		return nil
	}
	out := make(map[string]NodeState, len(nodes))
	for _, n := range nodes {
		out[n.Name] = nodeState(n)
	}
	return out
}

func nodeState(n *corev1.Node) NodeState {
	var s NodeState
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			s.Ready = c.Status == corev1.ConditionTrue
		}
	}
	for _, a := range n.Status.Addresses {
		if ip, err := netip.ParseAddr(a.Address); err == nil && a.Type == corev1.NodeInternalIP && ip.Is4() {
			s.IP = ip
			break
		}
	}
	return s
}

func sameRoutes(a, b map[netip.Addr][]netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || len(v) != len(w) {
			return false
		}
		for i := range v {
			if v[i] != w[i] {
				return false
			}
		}
	}
	return true
}

func routesAttr(m map[netip.Addr][]netip.Addr) map[string][]string {
	out := map[string][]string{}
	for k, v := range m {
		for _, h := range v {
			out[k.String()] = append(out[k.String()], h.String())
		}
	}
	return out
}
