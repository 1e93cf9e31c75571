package scheduler

import (
	"fmt"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Snapshot is the cluster as one decision sees it: the nodes and the pods
// bound to each. Pods being deleted (deletionTimestamp set) still count: they
// hold their resources and ports until they are gone. Pods in a terminal
// phase (Succeeded, Failed) hold nothing and are left out.
//
// A Snapshot keeps the *v1.Pod and *v1.Node pointers it is given and never
// modifies them; callers must not modify them either (informer objects are
// read-only anyway). A Snapshot is not safe for concurrent use: update it
// and schedule from one goroutine.
type Snapshot struct {
	nodes    []*nodeInfo // sorted by name, so that every walk is deterministic
	byName   map[string]*nodeInfo
	podNode  map[string]*nodeInfo // pod key (namespace/name) -> its node
	nsLabels map[string]labels.Set
}

// nodeInfo is a node with the aggregate of what its pods hold.
type nodeInfo struct {
	node        *v1.Node
	allocatable resources
	allowedPods int64

	pods         []*podInfo
	withAffinity []*podInfo // pods with pod (anti-)affinity terms
	requested    resources
	non0CPU      int64
	non0Mem      int64
	usedPorts    []hostPort
	owners       map[string]int // live (not deleting) pods per controller
}

// podInfo is a pod with what the decision reads from it, computed once.
type podInfo struct {
	pod      *v1.Pod
	key      string
	requests podRequests
	ports    []hostPort
	owner    string // controller key, "" when the pod has no controller
	affinity *podAffinity
}

// NewSnapshot builds a snapshot from listed nodes and pods. Pods not bound
// to one of the nodes are ignored, as are pods in a terminal phase. When two
// nodes share a name, the last one wins.
func NewSnapshot(nodes []*v1.Node, pods []*v1.Pod) *Snapshot {
	s := &Snapshot{byName: map[string]*nodeInfo{}, podNode: map[string]*nodeInfo{}}
	for _, n := range nodes {
		s.byName[n.Name] = newNodeInfo(n)
	}
	for _, ni := range s.byName {
		s.nodes = append(s.nodes, ni)
	}
	slices.SortFunc(s.nodes, func(a, b *nodeInfo) int { return strings.Compare(a.node.Name, b.node.Name) })
	for _, p := range pods {
		if ni := s.byName[p.Spec.NodeName]; ni != nil && !terminal(p) {
			s.add(ni, newBoundPodInfo(p))
		}
	}
	return s
}

// SetNamespaces records namespace labels, read by pod affinity terms with a
// namespaceSelector. Without it every namespace has no labels, so only an
// empty namespaceSelector (all namespaces) matches.
func (s *Snapshot) SetNamespaces(namespaces []*v1.Namespace) {
	s.nsLabels = make(map[string]labels.Set, len(namespaces))
	for _, ns := range namespaces {
		s.nsLabels[ns.Name] = labels.Set(ns.Labels)
	}
}

// AddPod records pod as bound to pod.Spec.NodeName, replacing the pod with
// the same namespace and name if the snapshot has it, so callers can feed
// it pod updates. A pod in a terminal phase is removed instead, since it
// holds nothing any more.
func (s *Snapshot) AddPod(pod *v1.Pod) error {
	ni := s.byName[pod.Spec.NodeName]
	if ni == nil {
		return fmt.Errorf("add pod %q: node %q is not in the snapshot", podKey(pod), pod.Spec.NodeName)
	}
	s.RemovePod(pod)
	if !terminal(pod) {
		s.add(ni, newBoundPodInfo(pod))
	}
	return nil
}

// Assume records that pod was placed on node, before the API confirms the
// binding, so the next decision already sees it. It returns the copy that
// the snapshot holds, with spec.nodeName set; pod itself is not modified.
// Undo it with RemovePod if the binding fails.
func (s *Snapshot) Assume(pod *v1.Pod, node string) (*v1.Pod, error) {
	bound := pod.DeepCopy()
	bound.Spec.NodeName = node
	if err := s.AddPod(bound); err != nil {
		return nil, fmt.Errorf("assume: %w", err)
	}
	return bound, nil
}

// RemovePod forgets the pod with pod's namespace and name, wherever it is
// bound. It reports whether the snapshot had it.
func (s *Snapshot) RemovePod(pod *v1.Pod) bool {
	key := podKey(pod)
	ni := s.podNode[key]
	if ni == nil {
		return false
	}
	i := slices.IndexFunc(ni.pods, func(p *podInfo) bool { return p.key == key })
	s.remove(ni, ni.pods[i])
	return true
}

// SetNode adds node, or replaces the node with the same name while keeping
// the pods bound to it, so callers can feed it node updates. Pods recorded
// before their node was known were dropped by AddPod: add them again after
// SetNode.
func (s *Snapshot) SetNode(node *v1.Node) {
	if ni := s.byName[node.Name]; ni != nil {
		ni.node = node
		ni.allocatable = resourcesOf(node.Status.Allocatable)
		ni.allowedPods = node.Status.Allocatable.Pods().Value()
		return
	}
	ni := newNodeInfo(node)
	s.byName[node.Name] = ni
	i, _ := slices.BinarySearchFunc(s.nodes, node.Name, func(n *nodeInfo, name string) int {
		return strings.Compare(n.node.Name, name)
	})
	s.nodes = slices.Insert(s.nodes, i, ni)
}

// RemoveNode forgets the node named name and the pods bound to it. It
// reports whether the snapshot had it.
func (s *Snapshot) RemoveNode(name string) bool {
	ni := s.byName[name]
	if ni == nil {
		return false
	}
	for _, p := range ni.pods {
		delete(s.podNode, p.key)
	}
	delete(s.byName, name)
	s.nodes = slices.DeleteFunc(s.nodes, func(n *nodeInfo) bool { return n == ni })
	return true
}

// Nodes returns the names of the nodes, sorted.
func (s *Snapshot) Nodes() []string {
	out := make([]string, len(s.nodes))
	for i, ni := range s.nodes {
		out[i] = ni.node.Name
	}
	return out
}

// PodsOn returns the pods bound to node, deleting ones included, in the
// order they were added.
func (s *Snapshot) PodsOn(node string) []*v1.Pod {
	ni := s.byName[node]
	if ni == nil {
		return nil
	}
	out := make([]*v1.Pod, len(ni.pods))
	for i, p := range ni.pods {
		out[i] = p.pod
	}
	return out
}

func (s *Snapshot) add(ni *nodeInfo, p *podInfo) {
	ni.pods = append(ni.pods, p)
	if p.affinity != nil {
		ni.withAffinity = append(ni.withAffinity, p)
	}
	ni.requested.add(p.requests.req, 1)
	ni.non0CPU += p.requests.non0CPU
	ni.non0Mem += p.requests.non0Mem
	ni.usedPorts = append(ni.usedPorts, p.ports...)
	if p.owner != "" && p.pod.DeletionTimestamp == nil {
		ni.owners[p.owner]++
	}
	s.podNode[p.key] = ni
}

func (s *Snapshot) remove(ni *nodeInfo, p *podInfo) {
	isP := func(q *podInfo) bool { return q == p }
	ni.pods = slices.DeleteFunc(ni.pods, isP)
	ni.withAffinity = slices.DeleteFunc(ni.withAffinity, isP)
	ni.requested.add(p.requests.req, -1)
	ni.non0CPU -= p.requests.non0CPU
	ni.non0Mem -= p.requests.non0Mem
	ni.usedPorts = ni.usedPorts[:0]
	for _, q := range ni.pods {
		ni.usedPorts = append(ni.usedPorts, q.ports...)
	}
	if p.owner != "" && p.pod.DeletionTimestamp == nil {
		if ni.owners[p.owner]--; ni.owners[p.owner] <= 0 {
			delete(ni.owners, p.owner)
		}
	}
	delete(s.podNode, p.key)
}

func (s *Snapshot) namespaceLabels(ns string) labels.Set {
	return s.nsLabels[ns]
}

func newNodeInfo(n *v1.Node) *nodeInfo {
	return &nodeInfo{
		node:        n,
		allocatable: resourcesOf(n.Status.Allocatable),
		allowedPods: n.Status.Allocatable.Pods().Value(),
		owners:      map[string]int{},
	}
}

// newBoundPodInfo reads a bound pod. Its requests honour resized
// allocations in its status, as the kubelet admits them.
func newBoundPodInfo(p *v1.Pod) *podInfo {
	info := &podInfo{
		pod:      p,
		key:      podKey(p),
		requests: requestsOf(p, true),
		ports:    hostPortsOf(p),
		owner:    ownerKey(p),
	}
	// A bound pod's terms were validated by the API server; one that still
	// fails to parse cannot select anything, so it is dropped.
	info.affinity, _ = parseAffinity(p)
	return info
}

func terminal(p *v1.Pod) bool {
	return p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed
}

func podKey(p *v1.Pod) string {
	return p.Namespace + "/" + p.Name
}

// ownerKey identifies the controller of a pod (the owner reference with
// controller=true) within its namespace, or returns "".
func ownerKey(p *v1.Pod) string {
	ref := metav1.GetControllerOfNoCopy(p)
	if ref == nil {
		return ""
	}
	if ref.UID != "" {
		return p.Namespace + "/" + string(ref.UID)
	}
	return p.Namespace + "/" + ref.Kind + "/" + ref.Name
}
