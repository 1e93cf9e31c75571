package nodelifecycle

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/internal/loop"
)

// LeaseNamespace holds the kubelets' heartbeat Leases, one per node, named
// like the node.
const LeaseNamespace = corev1.NamespaceNodeLease

// podsByNode indexes pods by spec.nodeName.
const podsByNode = "kinns-nodelifecycle-node"

// Controller watches node heartbeats, marks silent nodes Unknown, taints
// unhealthy nodes and evicts pods whose tolerations ran out.
type Controller struct {
	client kubernetes.Interface
	rec    events.EventRecorder
	log    *slog.Logger
	clock  clock.PassiveClock
	opts   Options

	nodes  corelisters.NodeLister
	leases coordlisters.LeaseLister
	pods   corelisters.PodLister
	podIdx cache.Indexer
	synced []cache.InformerSynced

	mu        sync.Mutex
	health    map[string]*health
	lastAlive time.Time // latest heartbeat of any node, or the controller's start
	mode      Mode
	firstSeen map[taintKey]time.Time // NoExecute taints without timeAdded

	// kick asks for a pass before the period is over: a node reports Ready
	// but still carries our taints, which keep new pods off it meanwhile.
	kick chan struct{}
}

// health is what the controller has seen of one node's heartbeats. probe is
// the controller's own clock at the last change, so a skewed or stale
// renewTime cannot make a node look alive or dead.
type health struct {
	probe     time.Time
	renew     time.Time // Lease spec.renewTime last seen
	heartbeat time.Time // Ready condition lastHeartbeatTime last seen
}

type taintKey struct{ node, key, effect string }

// New registers node, Lease and pod informers in d.Factory.
func New(d deps.Deps, opts Options) (*Controller, error) {
	d = d.Defaults()
	opts.defaults()
	nodeInf := d.Factory.Core().V1().Nodes()
	leaseInf := d.Factory.Coordination().V1().Leases()
	podInf := d.Factory.Core().V1().Pods()
	c := &Controller{
		client: d.Client, rec: d.Recorder, log: d.Log, clock: d.Clock, opts: opts,
		nodes: nodeInf.Lister(), leases: leaseInf.Lister(), pods: podInf.Lister(),
		synced:    []cache.InformerSynced{nodeInf.Informer().HasSynced, leaseInf.Informer().HasSynced, podInf.Informer().HasSynced},
		health:    map[string]*health{},
		firstSeen: map[taintKey]time.Time{},
		lastAlive: d.Clock.Now(),
		kick:      make(chan struct{}, 1),
	}
	// The index only speeds up pods-on-node lookups; if the pod informer has
	// already started (or another index has the name) we scan instead.
	if err := podInf.Informer().AddIndexers(cache.Indexers{podsByNode: indexByNode}); err == nil {
		c.podIdx = podInf.Informer().GetIndexer()
	}
	nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.observeNode(o) },
		UpdateFunc: func(_, o any) { c.observeNode(o) },
		DeleteFunc: c.nodeDeleted,
	})
	leaseInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.observeLease(o) },
		UpdateFunc: func(_, o any) { c.observeLease(o) },
	})
	return c, nil
}

func indexByNode(o any) ([]string, error) {
	if p, ok := o.(*corev1.Pod); ok && p.Spec.NodeName != "" {
		return []string{p.Spec.NodeName}, nil
	}
	return nil, nil
}

// Run judges nodes every MonitorPeriod until ctx is done. workers is unused:
// one pass handles every node, and a pass is cheap next to the period.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.log.Info("starting", "grace", c.opts.GracePeriod, "period", c.opts.MonitorPeriod, "blindAfter", c.opts.BlindAfter)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return
	}
	// Nobody has been judged yet: every node gets a full grace period from
	// now, since renewals made while we were away were never seen.
	c.mu.Lock()
	c.lastAlive = c.clock.Now()
	c.mu.Unlock()
	tick := time.NewTicker(c.opts.MonitorPeriod)
	defer tick.Stop()
	for {
		c.Monitor(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-c.kick:
		}
	}
}

// Mode is the disruption mode of the last Monitor pass.
func (c *Controller) Mode() Mode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mode
}

func (c *Controller) observeNode(o any) {
	n, ok := o.(*corev1.Node)
	if !ok {
		return
	}
	c.observe(n.Name, n, nil)
	if r := readyCondition(n); r != nil && r.Status == corev1.ConditionTrue && slices.ContainsFunc(n.Spec.Taints, owned) {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

func (c *Controller) observeLease(o any) {
	l, ok := o.(*coordinationv1.Lease)
	if !ok || l.Namespace != LeaseNamespace {
		return
	}
	c.observe(l.Name, nil, l)
}

func (c *Controller) nodeDeleted(o any) {
	if n, ok := loop.Unwrap(o).(*corev1.Node); ok {
		c.mu.Lock()
		delete(c.health, n.Name)
		c.mu.Unlock()
	}
}

// observe records a heartbeat when the node's Lease renewTime or its Ready
// lastHeartbeatTime moved since last seen. The first value seen is no
// heartbeat (it may be old): a node seen for the first time counts from now.
func (c *Controller) observe(name string, node *corev1.Node, lease *coordinationv1.Lease) {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	h, known := c.health[name]
	if !known {
		h = &health{probe: now}
		c.health[name] = h
	}
	changed := false
	if lease != nil && lease.Spec.RenewTime != nil {
		if t := lease.Spec.RenewTime.Time; !t.Equal(h.renew) {
			changed = changed || !h.renew.IsZero()
			h.renew = t
		}
	}
	if node != nil {
		if r := readyCondition(node); r != nil && !r.LastHeartbeatTime.Time.Equal(h.heartbeat) {
			changed = changed || !h.heartbeat.IsZero()
			h.heartbeat = r.LastHeartbeatTime.Time
		}
	}
	if changed {
		h.probe = now
		c.lastAlive = now
	}
}

// refresh observes every cached node and its Lease, in case an event was
// missed or coalesced.
func (c *Controller) refresh() []*corev1.Node {
	nodes, _ := c.nodes.List(labels.Everything())
	for _, n := range nodes {
		c.observe(n.Name, n, nil)
		if l, err := c.leases.Leases(LeaseNamespace).Get(n.Name); err == nil {
			c.observe(n.Name, nil, l)
		}
	}
	return nodes
}

func (c *Controller) podsOn(node string) []*corev1.Pod {
	if c.podIdx != nil {
		objs, err := c.podIdx.ByIndex(podsByNode, node)
		if err == nil {
			out := make([]*corev1.Pod, 0, len(objs))
			for _, o := range objs {
				out = append(out, o.(*corev1.Pod))
			}
			return out
		}
	}
	all, _ := c.pods.List(labels.Everything())
	var out []*corev1.Pod
	for _, p := range all {
		if p.Spec.NodeName == node {
			out = append(out, p)
		}
	}
	return out
}

func readyCondition(n *corev1.Node) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

func (c *Controller) event(obj runtime.Object, typ, reason, note string) {
	c.rec.Eventf(obj, nil, typ, reason, "NodeLifecycle", "%s", note)
}
