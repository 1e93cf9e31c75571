package scheduler

import (
	"sync"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/types"
)

// clusterCache keeps a Snapshot current from informer events and from the
// scheduler's own assumptions, so that a decision never lists the cluster.
// It is safe for concurrent use: informer handlers, the scheduling loop and
// the binders all go through it.
//
// An assumed pod is one the scheduler placed whose binding the informer
// has not shown yet. It counts in the snapshot like a bound pod, so that a
// burst of replicas spreads before the watch catches up. The informer's
// version of the pod replaces it as soon as it shows the pod bound; forget
// removes it if the binding fails first.
type clusterCache struct {
	mu      sync.Mutex
	snap    *Snapshot
	nodes   map[string]bool
	pods    map[string]*v1.Pod   // bound and assumed pods, also on nodes not yet seen
	assumed map[string]types.UID // key -> UID of the assumed pod
	// nominations are pending pods waiting for the room their preemption
	// makes on a node: key -> the pod with spec.nodeName set to that node.
	// Decisions for pods of no higher priority count them on their node,
	// so that a lower-priority pod does not take the room first.
	nominations map[string]*v1.Pod
}

func newClusterCache() *clusterCache {
	return &clusterCache{
		snap:    NewSnapshot(nil, nil),
		nodes:   map[string]bool{},
		pods:    map[string]*v1.Pod{},
		assumed: map[string]types.UID{},

		nominations: map[string]*v1.Pod{},
	}
}

// setNode adds or updates node. A new node also gets the pods that the
// informer showed bound to it before the node itself.
func (c *clusterCache) setNode(node *v1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap.SetNode(node)
	if c.nodes[node.Name] {
		return
	}
	c.nodes[node.Name] = true
	for _, p := range c.pods {
		if p.Spec.NodeName == node.Name {
			_ = c.snap.AddPod(p) // cannot fail: the node is there
		}
	}
}

func (c *clusterCache) removeNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.nodes, name)
	c.snap.RemoveNode(name)
}

// setPod records a pod the informer shows bound, replacing the assumed copy
// if there is one. A pod in a terminal phase is dropped.
func (c *clusterCache) setPod(pod *v1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := podKey(pod)
	delete(c.assumed, key)
	if terminal(pod) {
		delete(c.pods, key)
		c.snap.RemovePod(pod)
		return
	}
	c.pods[key] = pod
	if c.nodes[pod.Spec.NodeName] {
		_ = c.snap.AddPod(pod) // cannot fail: the node is there
	} else {
		c.snap.RemovePod(pod) // an assumed copy may sit on another node
	}
}

// removePod forgets a deleted pod; it reports whether the pod held a place
// (bound or assumed).
func (c *clusterCache) removePod(pod *v1.Pod) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := podKey(pod)
	_, had := c.pods[key]
	delete(c.pods, key)
	delete(c.assumed, key)
	c.snap.RemovePod(pod)
	return had
}

// schedule decides for pod and, when a node fits, assumes the pod there. It
// returns the assumed copy (spec.nodeName set) to bind. The pods nominated
// to a node with a priority at least pod's hold their room there meanwhile.
func (c *clusterCache) schedule(pod *v1.Pod, vols PodVolumes) (Decision, *v1.Pod, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	held := c.holdNominated(pod)
	d, err := ScheduleWithVolumes(pod, c.snap, vols)
	for _, n := range held {
		c.snap.RemovePod(n)
	}
	if err != nil {
		return d, nil, err
	}
	bound, err := c.snap.Assume(pod, d.Node)
	if err != nil {
		return d, nil, err
	}
	key := podKey(bound)
	c.pods[key] = bound
	c.assumed[key] = bound.UID
	return d, bound, nil
}

// forget undoes the assumption of pod after its binding failed, unless the
// informer has meanwhile shown the pod bound (or gone).
func (c *clusterCache) forget(pod *v1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := podKey(pod)
	if uid, ok := c.assumed[key]; !ok || uid != pod.UID {
		return
	}
	delete(c.assumed, key)
	delete(c.pods, key)
	c.snap.RemovePod(pod)
}

// holdNominated adds to the snapshot the nominated pods that outrank or
// equal pod (not pod itself), and returns them to be removed after.
func (c *clusterCache) holdNominated(pod *v1.Pod) []*v1.Pod {
	var held []*v1.Pod
	key, prio := podKey(pod), podPriority(pod)
	for k, n := range c.nominations {
		if k == key || podPriority(n) < prio || !c.nodes[n.Spec.NodeName] {
			continue
		}
		if _, placed := c.pods[k]; placed {
			continue
		}
		if c.snap.AddPod(n) == nil {
			held = append(held, n)
		}
	}
	return held
}

// preempt finds what preempting would give pod (see Preempt). A pod whose
// nominated node still has lower-priority pods on their way out waits for
// them instead of preempting again, as kube-scheduler's
// podEligibleToPreemptOthers says.
func (c *clusterCache) preempt(pod *v1.Pod, fit *FitError, pdbs []*policyv1.PodDisruptionBudget) (p Preemption, ok bool, why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	node := pod.Status.NominatedNodeName
	if n := c.nominations[podKey(pod)]; n != nil {
		node = n.Spec.NodeName
	}
	if node != "" {
		for _, p := range c.snap.PodsOn(node) {
			if p.DeletionTimestamp != nil && podPriority(p) < podPriority(pod) {
				return Preemption{}, false, "not eligible due to a terminating pod on the nominated node."
			}
		}
	}
	return Preempt(pod, c.snap, fit, pdbs)
}

// nominate records that pod waits for room on node.
func (c *clusterCache) nominate(pod *v1.Pod, node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := pod.DeepCopy()
	n.Spec.NodeName = node
	c.nominations[podKey(pod)] = n
}

// nominated records the nomination a pending pod's status shows.
func (c *clusterCache) nominated(pod *v1.Pod) {
	if pod.Status.NominatedNodeName == "" {
		return
	}
	c.nominate(pod, pod.Status.NominatedNodeName)
}

// denominate forgets the nomination of the pod with key: it is bound, gone
// or no longer ours.
func (c *clusterCache) denominate(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.nominations, key)
}

func (c *clusterCache) setNamespaces(namespaces []*v1.Namespace) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap.SetNamespaces(namespaces)
}

// assumedCount and podsOn are for tests.
func (c *clusterCache) assumedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.assumed)
}

func (c *clusterCache) podsOn(node string) []*v1.Pod {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snap.PodsOn(node)
}
