package scheduler

import (
	"fmt"

	"github.com/go-logr/logr"
	v1 "k8s.io/api/core/v1"
	v1helper "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// Filter names a check that can reject a node. The values are the names of
// the kube-scheduler plugins doing the same check, except NodeReady, which
// kube-scheduler leaves to the not-ready taints of the node lifecycle
// controller.
type Filter string

// The filters, in the order they run on each node. A node is rejected by
// the first filter that fails, so it reports that filter's reasons only.
const (
	FilterNodeReady         Filter = "NodeReady"
	FilterNodeUnschedulable Filter = "NodeUnschedulable"
	FilterTaintToleration   Filter = "TaintToleration"
	FilterNodeAffinity      Filter = "NodeAffinity"
	FilterNodePorts         Filter = "NodePorts"
	FilterNodeResourcesFit  Filter = "NodeResourcesFit"
	FilterInterPodAffinity  Filter = "InterPodAffinity"
)

// Reason messages, worded as kube-scheduler words them so that events and
// pod conditions read the same as on any cluster. MsgNotReady is the wording
// of the node-condition check kube-scheduler had before taints replaced it.
// The taint message names the taint, as kube-scheduler did for years (v1.37
// writes only "node(s) had untolerated taint(s)"): it tells the user what
// to tolerate.
const (
	MsgNotReady             = "node(s) were not ready"
	MsgUnschedulable        = "node(s) were unschedulable"
	MsgNodeAffinity         = "node(s) didn't match Pod's node affinity/selector"
	MsgNodePorts            = "node(s) didn't have free ports for the requested pod ports"
	MsgTooManyPods          = "Too many pods"
	MsgPodAffinity          = "node(s) didn't match pod affinity rules"
	MsgPodAntiAffinity      = "node(s) didn't match pod anti-affinity rules"
	MsgExistingAntiAffinity = "node(s) didn't satisfy existing pods anti-affinity rules"
	msgUntoleratedTaintFmt  = "node(s) had untolerated taint {%s: %s}"
	msgInsufficientFmt      = "Insufficient %s"
)

// Reason is why one node was rejected.
type Reason struct {
	Filter  Filter
	Message string
	// Resource is set by FilterNodeResourcesFit: the resource that did not
	// fit ("cpu", "memory", "pods", an extended resource…).
	Resource v1.ResourceName
	// Taint is set by FilterTaintToleration: the first untolerated taint.
	Taint *v1.Taint
}

// discard is handed to the component-helpers functions that want a logger:
// a decision logs nothing.
var discard = logr.Discard()

// candidate is the incoming pod with everything the filters and scores
// read, computed once per decision.
type candidate struct {
	*podInfo
	nodeAffinity    nodeaffinity.RequiredNodeAffinity
	softTolerations []v1.Toleration // for PreferNoSchedule taints
	state           *affinityState
	volumes         PodVolumes
}

// filters run in this order; see the Filter constants.
var filters = []func(*candidate, *nodeInfo) []Reason{
	(*candidate).readyFilter,
	(*candidate).unschedulableFilter,
	(*candidate).taintFilter,
	(*candidate).nodeAffinityFilter,
	(*candidate).volumeFilter,
	(*candidate).portsFilter,
	(*candidate).resourcesFilter,
	(*candidate).podAffinityFilter,
}

// filter runs the filters on one node and returns the reasons of the first
// one that fails, or nil when the node fits.
func (c *candidate) filter(ni *nodeInfo) []Reason {
	for _, check := range filters {
		if r := check(c, ni); r != nil {
			return r
		}
	}
	return nil
}

// readyFilter rejects a node whose Ready condition is not True. Kubernetes
// expresses this with the taints node.kubernetes.io/not-ready (Ready False)
// and node.kubernetes.io/unreachable (Ready Unknown or missing), so a pod
// that tolerates the matching NoSchedule taint may still go there.
func (c *candidate) readyFilter(ni *nodeInfo) []Reason {
	status := readyStatus(ni.node)
	if status == v1.ConditionTrue {
		return nil
	}
	taint := v1.Taint{Key: v1.TaintNodeUnreachable, Effect: v1.TaintEffectNoSchedule}
	if status == v1.ConditionFalse {
		taint.Key = v1.TaintNodeNotReady
	}
	if v1helper.TolerationsTolerateTaint(discard, c.pod.Spec.Tolerations, &taint, false) {
		return nil
	}
	return []Reason{{Filter: FilterNodeReady, Message: MsgNotReady}}
}

func readyStatus(n *v1.Node) v1.ConditionStatus {
	for _, cond := range n.Status.Conditions {
		if cond.Type == v1.NodeReady {
			return cond.Status
		}
	}
	return v1.ConditionUnknown
}

// unschedulableFilter rejects a cordoned node, unless the pod tolerates the
// node.kubernetes.io/unschedulable:NoSchedule taint.
func (c *candidate) unschedulableFilter(ni *nodeInfo) []Reason {
	if !ni.node.Spec.Unschedulable {
		return nil
	}
	taint := v1.Taint{Key: v1.TaintNodeUnschedulable, Effect: v1.TaintEffectNoSchedule}
	if v1helper.TolerationsTolerateTaint(discard, c.pod.Spec.Tolerations, &taint, false) {
		return nil
	}
	return []Reason{{Filter: FilterNodeUnschedulable, Message: MsgUnschedulable}}
}

// taintFilter rejects a node with a NoSchedule or NoExecute taint the pod
// does not tolerate; PreferNoSchedule taints only lower the score.
func (c *candidate) taintFilter(ni *nodeInfo) []Reason {
	taint, found := v1helper.FindMatchingUntoleratedTaint(discard, ni.node.Spec.Taints, c.pod.Spec.Tolerations, blocksScheduling, false)
	if !found {
		return nil
	}
	return []Reason{{
		Filter:  FilterTaintToleration,
		Message: fmt.Sprintf(msgUntoleratedTaintFmt, taint.Key, taint.Value),
		Taint:   &taint,
	}}
}

func blocksScheduling(t *v1.Taint) bool {
	return t.Effect == v1.TaintEffectNoSchedule || t.Effect == v1.TaintEffectNoExecute
}

// nodeAffinityFilter applies nodeSelector and required node affinity
// (matchExpressions on labels, matchFields on metadata.name).
func (c *candidate) nodeAffinityFilter(ni *nodeInfo) []Reason {
	// A term that fails to parse matches no node; the API server validates
	// terms, so this is the conservative reading of an impossible case.
	if ok, _ := c.nodeAffinity.Match(ni.node); ok {
		return nil
	}
	return []Reason{{Filter: FilterNodeAffinity, Message: MsgNodeAffinity}}
}

func (c *candidate) portsFilter(ni *nodeInfo) []Reason {
	if len(c.ports) == 0 || portsFit(c.ports, ni.usedPorts) {
		return nil
	}
	return []Reason{{Filter: FilterNodePorts, Message: MsgNodePorts}}
}

// resourcesFilter checks the pod count and every requested resource against
// allocatable minus what the bound pods request. All failures are reported.
func (c *candidate) resourcesFilter(ni *nodeInfo) []Reason {
	var out []Reason
	if int64(len(ni.pods))+1 > ni.allowedPods {
		out = append(out, Reason{Filter: FilterNodeResourcesFit, Message: MsgTooManyPods, Resource: v1.ResourcePods})
	}
	free := ni.allocatable.minus(ni.requested)
	for _, name := range insufficient(c.requests.req, free) {
		out = append(out, Reason{Filter: FilterNodeResourcesFit, Message: fmt.Sprintf(msgInsufficientFmt, name), Resource: name})
	}
	return out
}

// podAffinityFilter checks required pod affinity, the pod's required
// anti-affinity, and the required anti-affinity of pods already there.
func (c *candidate) podAffinityFilter(ni *nodeInfo) []Reason {
	st, a := c.state, c.affinity
	switch {
	case !st.affinityFits(a, ni.node):
		return []Reason{{Filter: FilterInterPodAffinity, Message: MsgPodAffinity}}
	case !st.antiAffinityFits(a, ni.node):
		return []Reason{{Filter: FilterInterPodAffinity, Message: MsgPodAntiAffinity}}
	case !st.existingAntiFits(ni.node):
		return []Reason{{Filter: FilterInterPodAffinity, Message: MsgExistingAntiAffinity}}
	}
	return nil
}
