package pods

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"

	"github.com/kinns/kinns/kubelet/internal/podinputs"
	"github.com/kinns/kinns/kubelet/runtime"
)

// pendingResize is why the kubelet has not admitted a pod's resize: the
// reason (Infeasible, Deferred) and message of its PodResizePending
// condition.
type pendingResize struct {
	reason, message string
}

// admitResize decides, as upstream's resize admission does, whether a pod
// whose spec asks for new resources fits the node. want is the pod's
// requests with the resize, used the sum of the other pods' allocated
// requests. A pod that alone asks for more than the node offers is
// Infeasible (it will never fit); one that would fit were the others
// smaller is Deferred (retried as they change). nil: it fits.
func admitResize(want, used, allocatable v1.ResourceList) *pendingResize {
	for _, name := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory} {
		capacity, ok := allocatable[name]
		if !ok {
			continue
		}
		w, u, c := amountIn(name, want), amountIn(name, used), amount(name, capacity)
		if w > c {
			return &pendingResize{reason: v1.PodReasonInfeasible,
				message: fmt.Sprintf("Node didn't have enough capacity: %s, requested: %d, capacity: %d", name, w, c)}
		}
		if w+u > c {
			return &pendingResize{reason: v1.PodReasonDeferred,
				message: fmt.Sprintf("Node didn't have enough resource: %s, requested: %d, used: %d, capacity: %d", name, w, u, c)}
		}
	}
	return nil
}

// amountIn is the named resource of l as the kubelet counts it (see
// amount); 0 when l lacks it.
func amountIn(name v1.ResourceName, l v1.ResourceList) int64 {
	q, ok := l[name]
	if !ok {
		return 0
	}
	return amount(name, q)
}

// podRequests are a pod's effective requests (init containers, sidecars and
// overhead counted as the scheduler counts them).
func podRequests(pod *v1.Pod) v1.ResourceList {
	return resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
}

// resize plans the in-place resize of the running containers whose cgroup
// limits differ from what their allocated resources call for: an update in
// place, or a restart when the container's resizePolicy says so for a
// resource that changed. pod carries the allocated resources.
func (p *plan) resize(in decideInput) {
	for _, c := range append(append([]v1.Container{}, in.pod.Spec.InitContainers...), in.pod.Spec.Containers...) {
		last := in.runs.latest(c.Name)
		if last == nil || last.State != runtime.StateRunning || p.kills(last.ID) {
			continue
		}
		want := podinputs.Resources(&c)
		if !recorded(last.Resources) || want == last.Resources {
			continue
		}
		cpu, mem := resourcesChanged(last.Resources, want)
		if cpu && needsRestart(c, v1.ResourceCPU) || mem && needsRestart(c, v1.ResourceMemory) {
			p.actions = append(p.actions, action{kind: actKill, name: c.Name, id: last.ID, resize: true,
				reason: fmt.Sprintf("Container %s resize requires restart", c.Name), then: killChanged})
			continue
		}
		p.actions = append(p.actions, action{kind: actUpdate, name: c.Name, id: last.ID, resize: true,
			resources: want, from: last.Resources})
	}
}

// recorded: the run's limits are known. A run started before the runtime
// recorded them is taken to have what its allocation calls for.
func recorded(r runtime.Resources) bool { return r.CPUShares != 0 }

// resourcesChanged says which of CPU and memory differ between two sets of
// cgroup limits.
func resourcesChanged(have, want runtime.Resources) (cpu, mem bool) {
	cpu = have.CPUShares != want.CPUShares || have.CPUQuota != want.CPUQuota || have.CPUPeriod != want.CPUPeriod
	return cpu, have.MemoryLimit != want.MemoryLimit
}

// needsRestart: the container's resizePolicy for the resource is
// RestartContainer (the default is NotRequired).
func needsRestart(c v1.Container, name v1.ResourceName) bool {
	for _, rp := range c.ResizePolicy {
		if rp.ResourceName == name {
			return rp.RestartPolicy == v1.RestartContainer
		}
	}
	return false
}

// memoryLowered: an update sets a memory limit where there was none, or a
// lower one; upstream then checks the usage first.
func memoryLowered(have, want runtime.Resources) bool {
	return want.MemoryLimit > 0 && (have.MemoryLimit == 0 || want.MemoryLimit < have.MemoryLimit)
}

// resizeInProgress: some running container's cgroup limits are not yet
// what its allocated resources call for.
func resizeInProgress(pod *v1.Pod, rs runs) bool {
	for _, c := range append(append([]v1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if last := rs.latest(c.Name); last != nil && last.State == runtime.StateRunning &&
			recorded(last.Resources) && podinputs.Resources(&c) != last.Resources {
			return true
		}
	}
	return false
}

// statusResources are the requests and limits a container has, as
// status.containerStatuses[].resources shows them: the allocated ones once
// its cgroup holds what they call for (or when it does not run); else what
// the cgroup holds, read back into quantities.
func statusResources(c v1.Container, last *runtime.Container) *v1.ResourceRequirements {
	out := c.Resources.DeepCopy()
	if last == nil || last.State != runtime.StateRunning || !recorded(last.Resources) || podinputs.Resources(&c) == last.Resources {
		return out
	}
	have := last.Resources
	if out.Limits != nil || have.CPUQuota > 0 || have.MemoryLimit > 0 {
		lim := v1.ResourceList{}
		for name, q := range out.Limits {
			if name != v1.ResourceCPU && name != v1.ResourceMemory {
				lim[name] = q
			}
		}
		if have.CPUQuota > 0 {
			period := int64(max(have.CPUPeriod, 1))
			lim[v1.ResourceCPU] = *resource.NewMilliQuantity(have.CPUQuota*1000/period, resource.DecimalSI)
		}
		if have.MemoryLimit > 0 {
			lim[v1.ResourceMemory] = *resource.NewQuantity(have.MemoryLimit, resource.BinarySI)
		}
		out.Limits = lim
	}
	if _, ok := out.Requests[v1.ResourceCPU]; ok {
		// Rounded up, as upstream reads shares back.
		out.Requests[v1.ResourceCPU] = *resource.NewMilliQuantity((int64(have.CPUShares)*1000+1023)/1024, resource.DecimalSI)
	}
	return out
}

// resizeConditions are PodResizePending (a resize not admitted) and
// PodResizeInProgress (admitted, not yet applied, or its application
// failed: reason Error).
func resizeConditions(in statusInput) []v1.PodCondition {
	var out []v1.PodCondition
	if p := in.resizePending; p != nil {
		out = append(out, v1.PodCondition{Type: v1.PodResizePending, Status: v1.ConditionTrue, Reason: p.reason, Message: p.message})
	}
	switch {
	case in.resizeError != "":
		out = append(out, v1.PodCondition{Type: v1.PodResizeInProgress, Status: v1.ConditionTrue, Reason: v1.PodReasonError, Message: in.resizeError})
	case !in.final && resizeInProgress(in.pod, in.runs):
		out = append(out, v1.PodCondition{Type: v1.PodResizeInProgress, Status: v1.ConditionTrue})
	}
	return out
}
