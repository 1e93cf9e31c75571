package pods

import (
	"context"
	"fmt"
	"slices"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
	v1helper "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/kubelet/lifecycle"
	"k8s.io/kubernetes/pkg/kubelet/sysctl"

	"github.com/kinns/kinns/kubelet/config"
)

// rejection is why the kubelet refuses a pod, with upstream's reason (the
// failed predicate's name, or OutOf<resource>) and message.
type rejection struct {
	Reason, Message string
}

// Upstream's predicate names and their failure descriptions.
const (
	predNodeAffinity = "NodeAffinity"
	predNodeName     = "NodeName"
	predNodePorts    = "NodePorts"
	predTaints       = "TaintToleration"

	descNodeAffinity = "node(s) didn't match Pod's node affinity/selector"
	descNodeName     = "node(s) didn't match the requested node name"
	descNodePorts    = "node(s) didn't have free ports for the requested pod ports"
	descTaints       = "node(s) had taints that the pod didn't tolerate"
)

// admit is the kubelet's admission of a new pod, as upstream's general
// predicates have it: the node's allocatable resources (pods, cpu, memory,
// ephemeral storage, extended resources the node has) against what the
// admitted pods (others) request, the required node affinity and selector,
// the node name, the host ports the others hold, and the node's NoExecute
// taints. The first failure is the answer; nil admits the pod. It is pure.
func admit(pod *v1.Pod, node *v1.Node, others []*v1.Pod) *rejection {
	if r := fitResources(pod, node, others); r != nil {
		return r
	}
	if ok, _ := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node); !ok {
		return predicateFailed(predNodeAffinity, descNodeAffinity)
	}
	if pod.Spec.NodeName != "" && pod.Spec.NodeName != node.Name {
		return predicateFailed(predNodeName, descNodeName)
	}
	if !portsFree(hostPortsOf(pod), others) {
		return predicateFailed(predNodePorts, descNodePorts)
	}
	noExecute := func(t *v1.Taint) bool { return t.Effect == v1.TaintEffectNoExecute }
	if _, untolerated := v1helper.FindMatchingUntoleratedTaint(klog.Background(), node.Spec.Taints, pod.Spec.Tolerations, noExecute, false); untolerated {
		return predicateFailed(predTaints, descTaints)
	}
	return nil
}

// admitter is one of the node's admission handlers beyond the general
// predicates, as upstream's kubelet runs them on a pod before it starts it.
type admitter interface {
	Admit(ctx context.Context, attrs *lifecycle.PodAdmitAttributes) lifecycle.PodAdmitResult
}

// newAdmitters builds those handlers: upstream's sysctl allowlist, of the
// safe sysctls this kernel namespaces and the unsafe ones cfg allows; a
// sysctl not known to be namespaced cannot be allowed.
func newAdmitters(ctx context.Context, cfg config.Config) ([]admitter, error) {
	allowed := append(sysctl.SafeSysctlAllowlist(ctx), cfg.AllowedUnsafeSysctls...)
	list, err := sysctl.NewAllowlist(allowed)
	if err != nil {
		return nil, fmt.Errorf("sysctl allowlist: %w", err)
	}
	return []admitter{list}, nil
}

// admitPod runs the handlers on pod; nil means admitted.
func admitPod(ctx context.Context, handlers []admitter, pod *v1.Pod) *rejection {
	for _, h := range handlers {
		if r := h.Admit(ctx, &lifecycle.PodAdmitAttributes{Pod: pod}); !r.Admit {
			return &rejection{Reason: r.Reason, Message: r.Message}
		}
	}
	return nil
}

func predicateFailed(name, desc string) *rejection {
	return &rejection{Reason: name, Message: fmt.Sprintf("Predicate %s failed: %s", name, desc)}
}

// fitResources checks the pod count first, then each resource the pod
// requests, in upstream's order; a pod that requests nothing fits anywhere
// the count allows.
func fitResources(pod *v1.Pod, node *v1.Node, others []*v1.Pod) *rejection {
	alloc := node.Status.Allocatable
	if max := alloc.Pods().Value(); int64(len(others))+1 > max {
		return insufficient(v1.ResourcePods, 1, int64(len(others)), max)
	}
	want := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	used := v1.ResourceList{}
	for _, o := range others {
		for name, q := range resourcehelper.PodRequests(o, resourcehelper.PodResourcesOptions{}) {
			sum := used[name]
			sum.Add(q)
			used[name] = sum
		}
	}
	for _, name := range requestOrder(want) {
		capacity, ok := alloc[name]
		if !ok && !isStandard(name) {
			continue // upstream ignores extended resources the node does not have
		}
		req, use, c := amount(name, want[name]), amount(name, used[name]), amount(name, capacity)
		if req > 0 && req > c-use {
			return insufficient(name, req, use, c)
		}
	}
	return nil
}

// requestOrder is upstream's: cpu, memory, ephemeral storage, then the
// others by name.
func requestOrder(want v1.ResourceList) []v1.ResourceName {
	var out, rest []v1.ResourceName
	for _, name := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory, v1.ResourceEphemeralStorage} {
		if _, ok := want[name]; ok {
			out = append(out, name)
		}
	}
	for name := range want {
		if !isStandard(name) && name != v1.ResourcePods {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

func isStandard(name v1.ResourceName) bool {
	return name == v1.ResourceCPU || name == v1.ResourceMemory || name == v1.ResourceEphemeralStorage
}

// amount is a quantity as upstream compares it: millicores for cpu, whole
// units for the rest.
func amount(name v1.ResourceName, q resource.Quantity) int64 {
	if name == v1.ResourceCPU {
		return q.MilliValue()
	}
	return q.Value()
}

// insufficient has upstream's reason (OutOfcpu, OutOfpods, …) and message.
func insufficient(name v1.ResourceName, requested, used, capacity int64) *rejection {
	return &rejection{
		Reason: "OutOf" + string(name),
		Message: fmt.Sprintf("Node didn't have enough resource: %s, requested: %d, used: %d, capacity: %d",
			name, requested, used, capacity),
	}
}

// hostPort is one host port a pod holds on its node.
type hostPort struct {
	ip       string // "" means every address (so does 0.0.0.0)
	protocol v1.Protocol
	port     int32
}

// hostPortsOf lists the host ports of the pod's containers and sidecars,
// what portMappings hands to the network.
func hostPortsOf(pod *v1.Pod) []hostPort {
	var out []hostPort
	for _, m := range portMappings(pod) {
		ip := ""
		if m.HostIP.IsValid() && !m.HostIP.IsUnspecified() {
			ip = m.HostIP.String()
		}
		proto := v1.Protocol(m.Protocol)
		if proto == "" {
			proto = v1.ProtocolTCP
		}
		out = append(out, hostPort{ip: ip, protocol: proto, port: m.HostPort})
	}
	return out
}

// conflicts: the same protocol and port, on the same address or a
// wildcard on either side.
func (h hostPort) conflicts(o hostPort) bool {
	return h.port == o.port && h.protocol == o.protocol && (h.ip == "" || o.ip == "" || h.ip == o.ip)
}

func portsFree(want []hostPort, others []*v1.Pod) bool {
	if len(want) == 0 {
		return true
	}
	for _, o := range others {
		for _, held := range hostPortsOf(o) {
			if slices.ContainsFunc(want, held.conflicts) {
				return false
			}
		}
	}
	return true
}
