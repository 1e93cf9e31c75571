package pods

import (
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
)

// conditions are the kubelet's four (PodReadyToStartContainers, Initialized,
// ContainersReady, Ready) plus, unchanged, those others own (PodScheduled,
// DisruptionTarget, readiness gates).
func conditions(in statusInput, st v1.PodStatus) []v1.PodCondition {
	done := st.Phase == v1.PodSucceeded || st.Phase == v1.PodFailed
	mine := []v1.PodCondition{
		cond(v1.PodReadyToStartContainers, in.sandboxReady && !done, "", ""),
		initializedCondition(in, st),
	}
	ready := readyCondition(v1.ContainersReady, st, done)
	mine = append(mine, ready, podReadyCondition(in.pod, ready))
	out := keepOthers(in.pod.Status.Conditions, append(mine,
		v1.PodCondition{Type: v1.PodResizePending}, v1.PodCondition{Type: v1.PodResizeInProgress}))
	mine = append(mine, resizeConditions(in)...)
	for _, c := range mine {
		c.ObservedGeneration = in.pod.Generation
		out = append(out, withTransition(c, in.pod.Status.Conditions, in.now))
	}
	sort.SliceStable(out, func(i, j int) bool { return condRank(out[i].Type) < condRank(out[j].Type) })
	return out
}

// initializedCondition is upstream's: True (PodCompleted) once the pod
// succeeded, True once any app container ran, else False while some init
// container has not completed (a regular one ended with 0, a sidecar
// started), naming those.
func initializedCondition(in statusInput, st v1.PodStatus) v1.PodCondition {
	if st.Phase == v1.PodSucceeded {
		return cond(v1.PodInitialized, true, "PodCompleted", "")
	}
	for _, cs := range st.ContainerStatuses {
		if cs.State.Running != nil || cs.State.Terminated != nil {
			return cond(v1.PodInitialized, true, "", "")
		}
	}
	var incomplete []string
	for i, cs := range st.InitContainerStatuses {
		done := cs.Ready
		if isSidecar(in.pod.Spec.InitContainers[i]) {
			done = cs.Started != nil && *cs.Started
		}
		if !done {
			incomplete = append(incomplete, cs.Name)
		}
	}
	if len(incomplete) > 0 {
		return cond(v1.PodInitialized, false, "ContainersNotInitialized", "containers with incomplete status: ["+strings.Join(incomplete, " ")+"]")
	}
	return cond(v1.PodInitialized, true, "", "")
}

func readyCondition(t v1.PodConditionType, st v1.PodStatus, done bool) v1.PodCondition {
	if done {
		reason := "PodCompleted"
		if st.Phase == v1.PodFailed {
			reason = "PodFailed"
		}
		return cond(t, false, reason, "")
	}
	var unready []string
	for _, cs := range append(sidecarStatuses(st), st.ContainerStatuses...) {
		if !cs.Ready {
			unready = append(unready, cs.Name)
		}
	}
	if len(unready) > 0 {
		return cond(t, false, "ContainersNotReady", "containers with unready status: ["+strings.Join(unready, " ")+"]")
	}
	return cond(t, true, "", "")
}

// sidecarStatuses are the init containers that run alongside (restartable
// ones show Started; a regular init container that ended is never Ready).
func sidecarStatuses(st v1.PodStatus) []v1.ContainerStatus {
	var out []v1.ContainerStatus
	for _, cs := range st.InitContainerStatuses {
		if cs.State.Running != nil && cs.Ready {
			out = append(out, cs)
		}
	}
	return out
}

func podReadyCondition(pod *v1.Pod, containersReady v1.PodCondition) v1.PodCondition {
	c := containersReady
	c.Type = v1.PodReady
	if c.Status != v1.ConditionTrue {
		return c
	}
	var missing []string
	for _, g := range pod.Spec.ReadinessGates {
		gc := findCondition(pod.Status.Conditions, g.ConditionType)
		if gc == nil || gc.Status != v1.ConditionTrue {
			missing = append(missing, string(g.ConditionType))
		}
	}
	if len(missing) > 0 {
		return cond(v1.PodReady, false, "ReadinessGatesNotReady", fmt.Sprintf("corresponding condition of pod readiness gate %q is not True", strings.Join(missing, ", ")))
	}
	return c
}

func cond(t v1.PodConditionType, ok bool, reason, msg string) v1.PodCondition {
	s := v1.ConditionFalse
	if ok {
		s = v1.ConditionTrue
	}
	return v1.PodCondition{Type: t, Status: s, Reason: reason, Message: msg}
}

// withTransition keeps the old transition time while the status holds.
func withTransition(c v1.PodCondition, old []v1.PodCondition, now time.Time) v1.PodCondition {
	if o := findCondition(old, c.Type); o != nil && o.Status == c.Status {
		c.LastTransitionTime = o.LastTransitionTime
	} else {
		c.LastTransitionTime = *mtime(now)
	}
	return c
}

func keepOthers(old, mine []v1.PodCondition) []v1.PodCondition {
	var out []v1.PodCondition
	for _, c := range old {
		if findCondition(mine, c.Type) == nil {
			out = append(out, c)
		}
	}
	return out
}

func findCondition(cs []v1.PodCondition, t v1.PodConditionType) *v1.PodCondition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}

// condRank orders conditions as kubectl users are used to.
func condRank(t v1.PodConditionType) int {
	for i, x := range []v1.PodConditionType{v1.PodReadyToStartContainers, v1.PodInitialized, v1.PodReady, v1.ContainersReady, v1.PodScheduled} {
		if t == x {
			return i
		}
	}
	return 10
}
