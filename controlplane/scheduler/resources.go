package scheduler

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Requests a pod without explicit requests is counted for when scoring, so
// that best-effort pods still spread instead of piling on the first node.
// These are kube-scheduler's values; they never affect filtering.
const (
	defaultMilliCPU = 100
	defaultMemory   = 200 * 1024 * 1024
)

// resources is a resource list in the units the filters compare: millicores
// for cpu, plain values for everything else.
type resources struct {
	milliCPU  int64
	memory    int64
	ephemeral int64
	scalar    map[v1.ResourceName]int64 // extended resources, hugepages; nil when none
}

func resourcesOf(list v1.ResourceList) resources {
	var r resources
	for name, q := range list {
		r.set(name, q)
	}
	return r
}

func (r *resources) set(name v1.ResourceName, q resource.Quantity) {
	switch name {
	case v1.ResourceCPU:
		r.milliCPU = q.MilliValue()
	case v1.ResourceMemory:
		r.memory = q.Value()
	case v1.ResourceEphemeralStorage:
		r.ephemeral = q.Value()
	case v1.ResourcePods:
		// Pod count is tracked apart: every pod uses exactly one.
	default:
		if r.scalar == nil {
			r.scalar = map[v1.ResourceName]int64{}
		}
		r.scalar[name] = q.Value()
	}
}

// add adds o to r, or subtracts it when sign is -1.
func (r *resources) add(o resources, sign int64) {
	r.milliCPU += sign * o.milliCPU
	r.memory += sign * o.memory
	r.ephemeral += sign * o.ephemeral
	for name, v := range o.scalar {
		if r.scalar == nil {
			r.scalar = map[v1.ResourceName]int64{}
		}
		r.scalar[name] += sign * v
	}
}

// minus returns r - o, leaving r untouched.
func (r resources) minus(o resources) resources {
	out := r
	out.scalar = nil
	out.add(resources{scalar: r.scalar}, 1)
	out.add(o, -1)
	return out
}

// podRequests is what a pod takes from its node, computed as Kubernetes
// does (component-helpers' PodRequests): the sum of containers and sidecars,
// at least the largest init container, pod-level requests when set, plus
// pod overhead.
type podRequests struct {
	req resources
	// non0CPU and non0Mem are the requests used for scoring, where a
	// container without a cpu or memory request counts the defaults above.
	non0CPU int64
	non0Mem int64
}

// requestsOf computes a pod's requests. statusAware reads resized
// allocations from the pod's status, which only a bound pod can carry.
func requestsOf(pod *v1.Pod, statusAware bool) podRequests {
	opts := resourcehelper.PodResourcesOptions{UseStatusResources: statusAware}
	list := resourcehelper.PodRequests(pod, opts)
	out := podRequests{req: resourcesOf(list)}
	opts.NonMissingContainerRequests = defaultsFor(pod, list)
	non0 := list
	if len(opts.NonMissingContainerRequests) > 0 {
		non0 = resourcehelper.PodRequests(pod, opts)
	}
	out.non0CPU = non0.Cpu().MilliValue()
	out.non0Mem = non0.Memory().Value()
	return out
}

// defaultsFor returns the scoring defaults that apply to pod. With pod-level
// requests, a default fills only a resource the pod does not request at all.
func defaultsFor(pod *v1.Pod, requests v1.ResourceList) v1.ResourceList {
	cpu := *resource.NewMilliQuantity(defaultMilliCPU, resource.DecimalSI)
	mem := *resource.NewQuantity(defaultMemory, resource.BinarySI)
	if !resourcehelper.IsPodLevelRequestsSet(pod) {
		return v1.ResourceList{v1.ResourceCPU: cpu, v1.ResourceMemory: mem}
	}
	out := v1.ResourceList{}
	if _, ok := requests[v1.ResourceCPU]; !ok {
		out[v1.ResourceCPU] = cpu
	}
	if _, ok := requests[v1.ResourceMemory]; !ok {
		out[v1.ResourceMemory] = mem
	}
	return out
}

// insufficient lists the resources of want that do not fit in free, in the
// order kube-scheduler reports them. Zero requests always fit, so a pod
// requesting nothing never fails here, even on a node that reports no
// allocatable of some kind.
func insufficient(want, free resources) []v1.ResourceName {
	var out []v1.ResourceName
	if want.milliCPU > 0 && want.milliCPU > free.milliCPU {
		out = append(out, v1.ResourceCPU)
	}
	if want.memory > 0 && want.memory > free.memory {
		out = append(out, v1.ResourceMemory)
	}
	if want.ephemeral > 0 && want.ephemeral > free.ephemeral {
		out = append(out, v1.ResourceEphemeralStorage)
	}
	for _, name := range sortedNames(want.scalar) {
		if v := want.scalar[name]; v > 0 && v > free.scalar[name] {
			out = append(out, name)
		}
	}
	return out
}
