package scheduler

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// Decision is where a pod should go, and why.
type Decision struct {
	// Node is the chosen node: the best total score, the smallest name
	// among equals.
	Node string
	// Ranking holds the nodes that passed every filter, best first;
	// Ranking[0] is Node.
	Ranking []NodeScore
	// Rejected holds, for each node that did not fit, why.
	Rejected map[string][]Reason
}

// NodeScore is the scores of one feasible node.
type NodeScore struct {
	Node string
	Scores
}

// Schedule picks a node for pod among the nodes of snap. It is a pure
// function of its arguments: it reads neither clock nor randomness, and
// modifies neither pod nor snap, so the same inputs always give the same
// decision. pod.Spec.NodeName and scheduling gates are not read: the caller
// passes only pods that are waiting for a node, and that are not in snap
// (an assumed pod whose binding failed must be removed first, or it would
// compete with itself).
//
// When no node fits, the error is a *FitError. Any other error means the
// pod itself is malformed (an unparsable pod affinity selector) and
// retrying will not help until the pod changes.
func Schedule(pod *v1.Pod, snap *Snapshot) (Decision, error) {
	return ScheduleWithVolumes(pod, snap, PodVolumes{})
}

// ScheduleWithVolumes is Schedule for a pod whose PersistentVolumeClaims
// ask what vols says (see ReadPodVolumes): an unresolvable claim fits no
// node, and a node must match the node affinity of the pod's volumes.
func ScheduleWithVolumes(pod *v1.Pod, snap *Snapshot, vols PodVolumes) (Decision, error) {
	if pod == nil || snap == nil {
		return Decision{}, errors.New("schedule: nil pod or snapshot")
	}
	if vols.Unresolvable != "" {
		return Decision{}, &FitError{Pod: podKey(pod), NumNodes: len(snap.nodes), PreFilterMsg: vols.Unresolvable}
	}
	c, err := newCandidate(pod, snap)
	if err != nil {
		return Decision{}, fmt.Errorf("schedule pod %q: %w", podKey(pod), err)
	}
	c.volumes = vols
	feasible, rejected := c.filterAll(snap.nodes)
	if len(feasible) == 0 {
		return Decision{Rejected: rejected}, &FitError{Pod: podKey(pod), NumNodes: len(snap.nodes), NodeReasons: rejected}
	}
	ranking := rank(feasible, c.score(feasible))
	return Decision{Node: ranking[0].Node, Ranking: ranking, Rejected: rejected}, nil
}

func newCandidate(pod *v1.Pod, snap *Snapshot) (*candidate, error) {
	affinity, err := parseAffinity(pod)
	if err != nil {
		return nil, err
	}
	c := &candidate{
		podInfo: &podInfo{
			pod:      pod,
			key:      podKey(pod),
			requests: requestsOf(pod, false),
			ports:    hostPortsOf(pod),
			owner:    ownerKey(pod),
			affinity: affinity,
		},
		nodeAffinity:    nodeaffinity.GetRequiredNodeAffinity(pod),
		softTolerations: softTolerations(pod),
	}
	c.state = computeAffinity(c.podInfo, snap)
	return c, nil
}

// filterAll splits nodes into those that fit and the reasons of the others.
func (c *candidate) filterAll(nodes []*nodeInfo) ([]*nodeInfo, map[string][]Reason) {
	var feasible []*nodeInfo
	var rejected map[string][]Reason
	for _, ni := range nodes {
		reasons := c.filter(ni)
		if reasons == nil {
			feasible = append(feasible, ni)
			continue
		}
		if rejected == nil {
			rejected = map[string][]Reason{}
		}
		rejected[ni.node.Name] = reasons
	}
	return feasible, rejected
}

// rank orders nodes by total score, best first; equal totals go by name so
// that the decision never depends on chance.
func rank(nodes []*nodeInfo, scores []Scores) []NodeScore {
	out := make([]NodeScore, len(nodes))
	for i, ni := range nodes {
		out[i] = NodeScore{Node: ni.node.Name, Scores: scores[i]}
	}
	slices.SortFunc(out, func(a, b NodeScore) int {
		if c := cmp.Compare(b.Total, a.Total); c != 0 {
			return c
		}
		return strings.Compare(a.Node, b.Node)
	})
	return out
}

// sortedNames returns the keys of m, sorted.
func sortedNames[K ~string, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
