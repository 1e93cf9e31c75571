package nodeipam

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"

	"github.com/kinns/kinns/controlplane/controllers/internal/deps"
	"github.com/kinns/kinns/controlplane/controllers/internal/loop"
)

// Options tune a Controller.
type Options struct {
	// ClusterCIDR is the pod range (default 10.244.0.0/16).
	ClusterCIDR netip.Prefix
	// NodeMaskSize is the size of each node's block (default 24).
	NodeMaskSize int
}

// Controller gives nodes without spec.podCIDR a block of the cluster range.
type Controller struct {
	client kubernetes.Interface
	rec    events.EventRecorder
	log    *slog.Logger
	nodes  corelisters.NodeLister
	synced cache.InformerSynced
	queue  loop.Queue

	mu      sync.Mutex
	set     *CIDRSet
	pending map[string]netip.Prefix // node -> block patched but not yet seen in the cache
	held    map[string][]netip.Prefix
}

// New registers a node informer in d.Factory. Invalid Options are an error
// (the controller manager validates them beforehand).
func New(d deps.Deps, opts Options) (*Controller, error) {
	d = d.Defaults()
	if !opts.ClusterCIDR.IsValid() {
		opts.ClusterCIDR = netip.MustParsePrefix("10.244.0.0/16")
	}
	if opts.NodeMaskSize == 0 {
		opts.NodeMaskSize = 24
	}
	set, err := NewCIDRSet(opts.ClusterCIDR, opts.NodeMaskSize)
	if err != nil {
		return nil, err
	}
	inf := d.Factory.Core().V1().Nodes()
	c := &Controller{
		client: d.Client, rec: d.Recorder, log: d.Log, nodes: inf.Lister(), synced: inf.Informer().HasSynced,
		queue: loop.NewQueue("nodeipam"), set: set,
		pending: map[string]netip.Prefix{}, held: map[string][]netip.Prefix{},
	}
	inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { loop.Enqueue(c.queue, o) },
		UpdateFunc: func(_, o any) { loop.Enqueue(c.queue, o) },
		DeleteFunc: func(o any) { loop.Enqueue(c.queue, o) },
	})
	return c, nil
}

// Run assigns CIDRs with workers goroutines until ctx is done. Blocks already
// used by nodes are recorded before the first assignment.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.log.Info("starting", "cluster", c.set.cluster.String(), "mask", c.set.bits)
	loop.Run(ctx, c.log, c.queue, workers, c.Sync, c.synced)
}

// Sync handles the node named key: it records the blocks the node uses, or
// gives it one. A block once given to a node is offered to nobody else until
// the node is gone, even if the patch failed or the cache is stale.
func (c *Controller) Sync(ctx context.Context, key string) error {
	node, err := c.nodes.Get(key)
	c.mu.Lock()
	if apierrors.IsNotFound(err) {
		c.forget(key)
		c.mu.Unlock()
		return nil
	}
	if err != nil {
		c.mu.Unlock()
		return err
	}
	c.occupyAll()
	if cidrs := nodeCIDRs(node); len(cidrs) > 0 {
		c.settle(key, cidrs)
		c.mu.Unlock()
		return nil
	}
	block, ok := c.pending[key]
	if !ok {
		if block, err = c.set.Allocate(key); err != nil {
			c.mu.Unlock()
			c.event(node, "CIDRNotAvailable", err.Error())
			return fmt.Errorf("assign pod CIDR to node %q: %w", key, err)
		}
		c.pending[key] = block
		c.held[key] = append(c.held[key], block)
	}
	c.mu.Unlock()
	return c.patch(ctx, node, block)
}

// occupyAll records every block the cached nodes use; a block claimed by two
// nodes is reported once per sync.
func (c *Controller) occupyAll() {
	nodes, _ := c.nodes.List(labels.Everything())
	for _, n := range nodes {
		for _, p := range nodeCIDRs(n) {
			if other := c.set.Occupy(p, n.Name); other != "" {
				c.log.Warn("pod CIDR used by two nodes", "cidr", p.String(), "node", n.Name, "owner", other)
				continue
			}
			if !containsPrefix(c.held[n.Name], p) {
				c.held[n.Name] = append(c.held[n.Name], p)
			}
		}
	}
}

// settle ends a pending assignment once the node shows CIDRs; a block we
// reserved but the node did not take (someone else set its CIDR first) is
// freed.
func (c *Controller) settle(name string, cidrs []netip.Prefix) {
	p, ok := c.pending[name]
	if !ok {
		return
	}
	delete(c.pending, name)
	if containsPrefix(cidrs, p) {
		return
	}
	c.set.Release(p, name)
	kept := c.held[name][:0]
	for _, q := range c.held[name] {
		if q != p {
			kept = append(kept, q)
		}
	}
	c.held[name] = kept
}

// forget frees what a deleted node held.
func (c *Controller) forget(name string) {
	for _, p := range c.held[name] {
		c.set.Release(p, name)
	}
	delete(c.held, name)
	delete(c.pending, name)
}

func (c *Controller) patch(ctx context.Context, node *corev1.Node, block netip.Prefix) error {
	body := fmt.Sprintf(`{"spec":{"podCIDR":%q,"podCIDRs":[%q]}}`, block, block)
	_, err := c.client.CoreV1().Nodes().Patch(ctx, node.Name, types.StrategicMergePatchType, []byte(body), metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil // the delete event frees the block
	}
	if err != nil {
		c.event(node, "CIDRAssignmentFailed", fmt.Sprintf("assign %s: %v", block, err))
		return fmt.Errorf("set pod CIDR %s on node %q: %w", block, node.Name, err)
	}
	c.log.Info("assigned pod CIDR", "node", node.Name, "cidr", block.String())
	return nil
}

func (c *Controller) event(node *corev1.Node, reason, note string) {
	c.rec.Eventf(node, nil, corev1.EventTypeWarning, reason, "AssignPodCIDR", "%s", note)
}

// nodeCIDRs parses the node's pod CIDRs, skipping malformed ones.
func nodeCIDRs(n *corev1.Node) []netip.Prefix {
	raw := n.Spec.PodCIDRs
	if len(raw) == 0 && n.Spec.PodCIDR != "" {
		raw = []string{n.Spec.PodCIDR}
	}
	var out []netip.Prefix
	for _, s := range raw {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

func containsPrefix(ps []netip.Prefix, p netip.Prefix) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}
