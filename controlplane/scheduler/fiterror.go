package scheduler

import (
	"fmt"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// FitError is returned by Schedule when no node can take the pod. Its
// message has kube-scheduler's form, e.g.
//
//	0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }.
//
// so it can go as is into the PodScheduled condition and the
// FailedScheduling event. As kube-scheduler's, it ends with why preemption
// did not help, once the scheduler has tried it (PostFilterMsg).
type FitError struct {
	// Pod is the pod's namespace/name.
	Pod string
	// NumNodes is how many nodes were considered.
	NumNodes int
	// NodeReasons holds, for each node, why it was rejected.
	NodeReasons map[string][]Reason
	// PreFilterMsg, when set, rejected the pod before any node was
	// looked at (a missing claim): it is the whole reason.
	PreFilterMsg string
	// PostFilterMsg, when set, follows the reasons: "preemption: " and why
	// it did not help (see Preempt).
	PostFilterMsg string
}

// ReasonCount is one reason and the number of nodes it rejected.
type ReasonCount struct {
	Reason
	Nodes int
}

// Error returns the message in kube-scheduler's form: "<count> <reason>"
// items sorted as strings, the way kube-scheduler sorts them, then
// PostFilterMsg.
func (e *FitError) Error() string {
	var msg string
	switch {
	case e.NumNodes == 0:
		return "no nodes available to schedule pods"
	case e.PreFilterMsg != "":
		msg = fmt.Sprintf("0/%d nodes are available: %s.", e.NumNodes, e.PreFilterMsg)
	default:
		items := make([]string, 0, len(e.NodeReasons))
		for _, rc := range e.Reasons() {
			items = append(items, rc.String())
		}
		msg = fmt.Sprintf("0/%d nodes are available: %s.", e.NumNodes, strings.Join(items, ", "))
	}
	if e.PostFilterMsg != "" {
		msg += " " + e.PostFilterMsg
	}
	return msg
}

func (rc ReasonCount) String() string {
	return fmt.Sprintf("%d %s", rc.Nodes, rc.Message)
}

// Reasons returns each distinct reason with the number of nodes it
// rejected, in the order of the message. Reasons with the same message
// (e.g. the same taint on several nodes) are one entry.
func (e *FitError) Reasons() []ReasonCount {
	index := map[string]int{}
	var out []ReasonCount
	for _, node := range sortedNames(e.NodeReasons) {
		for _, r := range e.NodeReasons[node] {
			i, ok := index[r.Message]
			if !ok {
				i = len(out)
				index[r.Message] = i
				out = append(out, ReasonCount{Reason: r})
			}
			out[i].Nodes++
		}
	}
	slices.SortFunc(out, func(a, b ReasonCount) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// Insufficient returns the resources that did not fit on at least one
// node ("pods" for Too many pods), sorted. A retry is worth it once pods
// that request them are gone or nodes are added.
func (e *FitError) Insufficient() []v1.ResourceName {
	var out []v1.ResourceName
	for _, rs := range e.NodeReasons {
		for _, r := range rs {
			if r.Resource != "" && !slices.Contains(out, r.Resource) {
				out = append(out, r.Resource)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Rejected returns how many nodes filter f rejected.
func (e *FitError) Rejected(f Filter) int {
	n := 0
	for _, rs := range e.NodeReasons {
		if len(rs) > 0 && rs[0].Filter == f {
			n++
		}
	}
	return n
}
