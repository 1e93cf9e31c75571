package pods

import (
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kinns/kinns/kubelet/runtime"
)

// waiting is why a container that should run does not: a failed pull or
// start, or a backoff.
type waiting struct {
	Reason, Message string
	// image is the image whose pull failed, when it is not the
	// container's own (an image volume's).
	image string
}

// probeResults are what the probes found, per run ID. A run with no entry
// has no result yet.
type probeResults struct {
	ready, started map[string]bool
}

// statusInput is everything podStatus looks at.
type statusInput struct {
	pod     *v1.Pod
	runs    runs
	waiting map[string]waiting
	probes  probeResults
	// sandboxReady: the pod's network is up; podIP is its address.
	sandboxReady bool
	podIP        string
	hostIP       string
	// final: the kubelet stopped the pod for good (deleted, or its restart
	// policy lets nothing run again), so the phase is terminal.
	final bool
	// restarting holds the runs a sync stopped that will start again whatever
	// their exit code (a failed liveness probe, a changed image): until they
	// do, the pod is not finished, even under OnFailure with exit 0.
	restarting map[string]bool
	// deadlineExceeded: the pod ran past its activeDeadlineSeconds; it is
	// Failed with upstream's reason and message.
	deadlineExceeded bool
	// rejected: the node's admission refused the pod; it is Failed with
	// the refusal's reason and message, as upstream's kubelet reports it.
	rejected *rejection
	// resizePending: a resize the kubelet has not admitted, and why;
	// resizeError: why applying an admitted one failed.
	resizePending *pendingResize
	resizeError   string
	now           time.Time
}

// podStatus computes the pod's status as the kubelet reports it. It is a pure
// function; times are whole seconds, as the API stores them, so that an
// unchanged status compares equal to what the API returns.
func podStatus(in statusInput) v1.PodStatus {
	old := in.pod.Status
	st := v1.PodStatus{
		// The spec generation this status reflects (kubectl wait and
		// controllers compare it to metadata.generation).
		ObservedGeneration: in.pod.Generation,
		QOSClass:           old.QOSClass,
		StartTime:          old.StartTime,
		HostIP:             in.hostIP,
	}
	if st.StartTime == nil {
		st.StartTime = mtime(in.now)
	}
	if in.hostIP != "" {
		st.HostIPs = []v1.HostIP{{IP: in.hostIP}}
	}
	st.PodIP, st.PodIPs = old.PodIP, old.PodIPs
	if in.podIP != "" {
		st.PodIP, st.PodIPs = in.podIP, []v1.PodIP{{IP: in.podIP}}
	}
	for _, c := range in.pod.Spec.InitContainers {
		st.InitContainerStatuses = append(st.InitContainerStatuses, containerStatus(in, c, true))
	}
	markInitReady(in.pod, st.InitContainerStatuses)
	for _, c := range in.pod.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, containerStatus(in, c, false))
	}
	st.EphemeralContainerStatuses = ephemeralStatuses(in)
	st.Phase = podPhase(in.pod, st, in.final, in.restarting)
	if in.deadlineExceeded {
		st.Phase, st.Reason, st.Message = v1.PodFailed, deadlineReason, deadlineMessage
	}
	if r := in.rejected; r != nil {
		st.Phase, st.Reason, st.Message = v1.PodFailed, r.Reason, "Pod was rejected: "+r.Message
	}
	st.Conditions = conditions(in, st)
	return st
}

func containerStatus(in statusInput, c v1.Container, init bool) v1.ContainerStatus {
	cs := v1.ContainerStatus{Name: c.Name, Image: c.Image}
	// in.pod carries the allocated resources.
	if len(c.Resources.Requests) > 0 {
		cs.AllocatedResources = c.Resources.Requests.DeepCopy()
	}
	cs.Resources = statusResources(c, in.runs.latest(c.Name))
	w, isWaiting := in.waiting[c.Name]
	list := in.runs[c.Name]
	if len(list) == 0 {
		if old := findStatus(in.pod.Status, c.Name); old != nil {
			cs.RestartCount, cs.LastTerminationState = old.RestartCount, old.LastTerminationState
			if t := old.State.Terminated; t != nil && in.final {
				cs.State.Terminated = t // ended before the kubelet lost track of it
				return cs
			}
		}
		if !isWaiting {
			w = waiting{Reason: defaultWaitingReason(in.pod)}
		}
		cs.State.Waiting = &v1.ContainerStateWaiting{Reason: w.Reason, Message: w.Message}
		cs.Started = ptr(false)
		return cs
	}
	last := list[0]
	cs.RestartCount = int32(last.Attempt)
	cs.ContainerID = "containerd://" + last.ID
	cs.ImageID = last.ImageID
	if len(list) > 1 {
		cs.LastTerminationState.Terminated = terminated(list[1])
	}
	switch last.State {
	case runtime.StateRunning:
		cs.State.Running = &v1.ContainerStateRunning{StartedAt: *mtime(last.StartedAt)}
		cs.Started = ptr(isStarted(in, c, last.ID))
		cs.Ready = *cs.Started && isReady(in, c, init, last.ID)
	case runtime.StateExited:
		cs.Started = ptr(false)
		if isWaiting && !in.final {
			cs.State.Waiting = &v1.ContainerStateWaiting{Reason: w.Reason, Message: w.Message}
			cs.LastTerminationState = v1.ContainerState{Terminated: terminated(last)}
			break
		}
		cs.State.Terminated = terminated(last)
	default:
		// Created, not started: upstream's bare waiting state, unless a
		// failed start said why.
		cs.Started = ptr(false)
		cs.State.Waiting = &v1.ContainerStateWaiting{Reason: w.Reason, Message: w.Message}
	}
	return cs
}

// ephemeralStatuses are the ephemeral containers' statuses, built as the
// app containers' but, as upstream, never ready and with no started field:
// they have no probes and count for neither the phase nor the conditions.
func ephemeralStatuses(in statusInput) []v1.ContainerStatus {
	var out []v1.ContainerStatus
	for _, ec := range in.pod.Spec.EphemeralContainers {
		cs := containerStatus(in, v1.Container(ec.EphemeralContainerCommon), false)
		cs.Ready, cs.Started = false, nil
		out = append(out, cs)
	}
	return out
}

// defaultWaitingReason is upstream's reason for a container that has not run
// yet: PodInitializing for every container of a pod with init containers
// (init and app alike), else ContainerCreating.
func defaultWaitingReason(pod *v1.Pod) string {
	if len(pod.Spec.InitContainers) > 0 {
		return "PodInitializing"
	}
	return "ContainerCreating"
}

// markInitReady sets Ready on the regular init containers that ended with
// 0, as upstream's prober manager does: Initialized counts those.
func markInitReady(pod *v1.Pod, st []v1.ContainerStatus) {
	for i := range st {
		if isSidecar(pod.Spec.InitContainers[i]) {
			continue
		}
		t := st[i].State.Terminated
		st[i].Ready = t != nil && t.ExitCode == 0
	}
}

func terminated(r runtime.Container) *v1.ContainerStateTerminated {
	return &v1.ContainerStateTerminated{
		ExitCode:    int32(r.ExitCode),
		Reason:      r.Reason,
		Message:     r.Message,
		StartedAt:   *mtime(r.StartedAt),
		FinishedAt:  *mtime(r.FinishedAt),
		ContainerID: "containerd://" + r.ID,
	}
}

func isStarted(in statusInput, c v1.Container, id string) bool {
	if c.StartupProbe == nil {
		return true
	}
	return in.probes.started[id]
}

// isReady: a running container with no readiness probe is ready once
// started; with one, once the probe says so. A regular init container is
// never ready while it runs.
func isReady(in statusInput, c v1.Container, init bool, id string) bool {
	if init && !isSidecar(c) {
		return false
	}
	if c.ReadinessProbe == nil {
		return true
	}
	return in.probes.ready[id]
}

// podPhase follows the kubelet's rules: Pending until initialized and every
// container started once; Running while any runs or will restart; then
// Succeeded if every container ended with 0, else Failed.
func podPhase(pod *v1.Pod, st v1.PodStatus, final bool, restarting map[string]bool) v1.PodPhase {
	policy := pod.Spec.RestartPolicy
	for i, cs := range st.InitContainerStatuses {
		if isSidecar(pod.Spec.InitContainers[i]) {
			continue
		}
		if t := lastExit(cs); t != nil && t.ExitCode != 0 && policy == v1.RestartPolicyNever {
			return v1.PodFailed
		}
		if t := cs.State.Terminated; t == nil || t.ExitCode != 0 {
			if !final {
				return v1.PodPending
			}
		}
	}
	var running, waiting, stopped, succeeded int
	for _, cs := range st.ContainerStatuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil && !final && restarting[strings.TrimPrefix(cs.ContainerID, "containerd://")]:
			running++ // stopped by the kubelet, about to start again
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.LastTerminationState.Terminated != nil:
			stopped++ // waiting to restart
		default:
			waiting++
		}
	}
	switch {
	case final && running == 0 && waiting == 0 && stopped == succeeded:
		return v1.PodSucceeded
	case final && running == 0:
		return v1.PodFailed
	case waiting > 0:
		return v1.PodPending
	case running > 0:
		return v1.PodRunning
	case policy == v1.RestartPolicyAlways:
		return v1.PodRunning
	case stopped == succeeded:
		return v1.PodSucceeded
	case policy == v1.RestartPolicyNever:
		return v1.PodFailed
	}
	return v1.PodRunning
}

// lastExit is the container's last ended run: the current state if
// terminated, else the last termination.
func lastExit(cs v1.ContainerStatus) *v1.ContainerStateTerminated {
	if cs.State.Terminated != nil {
		return cs.State.Terminated
	}
	return cs.LastTerminationState.Terminated
}

func mtime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return &metav1.Time{}
	}
	m := metav1.NewTime(t.Truncate(time.Second))
	return &m
}

func ptr[T any](v T) *T { return &v }
