package pods

import (
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/kinns/kinns/kubelet/runtime"
)

// runs are a pod's containers as the runtime knows them: per container name,
// its runs newest (highest attempt) first.
type runs map[string][]runtime.Container

func groupRuns(cs []runtime.Container) runs {
	r := runs{}
	for _, c := range cs {
		list := r[c.Name]
		i := 0
		for i < len(list) && list[i].Attempt > c.Attempt {
			i++
		}
		r[c.Name] = append(list[:i], append([]runtime.Container{c}, list[i:]...)...)
	}
	return r
}

// has reports whether a run with this ID is among the runs.
func (r runs) has(id string) bool {
	for _, list := range r {
		for _, c := range list {
			if c.ID == id {
				return true
			}
		}
	}
	return false
}

// latest is the newest run of a container, or nil.
func (r runs) latest(name string) *runtime.Container {
	if l := r[name]; len(l) > 0 {
		return &l[0]
	}
	return nil
}

// anyRunning reports whether some container's newest run is running.
func (r runs) anyRunning() bool {
	for _, list := range r {
		if len(list) > 0 && list[0].State == runtime.StateRunning {
			return true
		}
	}
	return false
}

type actionKind int

const (
	actStart actionKind = iota
	actKill
	// actUpdate applies new cgroup limits to a running run (in-place resize).
	actUpdate
)

// killKind says what follows the kill of a run.
type killKind int

const (
	// killPlain: the restart policy decides, from the exit code.
	killPlain killKind = iota
	// killProbe: a failed liveness or startup probe; restarted whatever the
	// exit code, unless the policy is Never.
	killProbe
	// killChanged: the container's spec (its image) changed; restarted
	// whatever the policy.
	killChanged
)

// action is one thing a sync does to a container.
type action struct {
	kind      actionKind
	name      string
	init      bool
	ephemeral bool
	attempt   int      // start: the attempt to run
	id        string   // kill, update: the run
	reason    string   // kill: why
	then      killKind // kill: what follows
	// resize: the action applies an in-place resize (a kill: a restart the
	// container's resizePolicy asks for).
	resize bool
	// resources (update) are the run's new cgroup limits, from what it has.
	resources, from runtime.Resources
}

// plan is what a sync must do to move a pod towards its spec.
type plan struct {
	actions []action
	// backoff holds, per container name, the CrashLoopBackOff message of a
	// container waiting for its restart.
	backoff map[string]string
	// requeue is when the next sync is due (the end of a backoff); 0: none.
	requeue time.Duration
	// done: the restart policy lets nothing run again; the pod's phase is final.
	done bool
	// deadlineExceeded: the pod ran past its activeDeadlineSeconds; it is
	// stopped and Failed, whatever its containers did.
	deadlineExceeded bool
}

// decideInput is everything decide looks at.
type decideInput struct {
	pod  *v1.Pod
	runs runs
	// unhealthy holds, per run ID, why a probe wants it restarted.
	unhealthy map[string]string
	// killed holds the runs a sync stopped, and what follows.
	killed  map[string]killKind
	backoff *restartBackoff
	now     time.Time
}

// decide is the kubelet's pod logic as a pure function: which containers to
// start (init containers one at a time and in order, then every app
// container; ephemeral containers once each, initialized or not), which to
// kill (failed liveness or startup probes), and which wait for a backoff to
// end.
func decide(in decideInput) plan {
	p := plan{backoff: map[string]string{}}
	if left, ok := deadlineLeft(in.pod, in.now); ok && left <= 0 {
		p.done, p.deadlineExceeded = true, true
		p.killAll(in, deadlineMessage)
		return p
	} else if ok {
		p.wakeIn(left)
	}
	p.killUnhealthy(in)
	p.resize(in)
	initialized, failed := p.initContainers(in)
	if failed {
		p.done = true
		p.killAll(in, "init container failed")
		return p
	}
	p.ephemeralContainers(in)
	if !initialized {
		return p
	}
	for _, c := range in.pod.Spec.Containers {
		p.container(in, c, false)
	}
	if p.appsFinished(in) {
		p.done = true
		p.killAll(in, "pod completed")
	}
	return p
}

// killUnhealthy kills the running runs whose probes failed or whose
// container's image changed in the pod's spec.
func (p *plan) killUnhealthy(in decideInput) {
	for _, c := range append(append([]v1.Container{}, in.pod.Spec.InitContainers...), in.pod.Spec.Containers...) {
		last := in.runs.latest(c.Name)
		if last == nil || last.State != runtime.StateRunning {
			continue
		}
		if why, ok := in.unhealthy[last.ID]; ok {
			p.actions = append(p.actions, action{kind: actKill, name: c.Name, id: last.ID, reason: why, then: killProbe})
		} else if imageChanged(c, last) {
			p.actions = append(p.actions, action{kind: actKill, name: c.Name, id: last.ID,
				reason: fmt.Sprintf("Container %s definition changed, will be restarted", c.Name), then: killChanged})
		}
	}
}

// imageChanged: the spec names another image than the run's (the one
// field of a container an update may change).
func imageChanged(c v1.Container, run *runtime.Container) bool {
	want, err := runtime.NormalizeImage(c.Image)
	return err == nil && run.Image != "" && want != run.Image
}

// initContainers walks the init containers in order. A regular one must end
// with 0 before the next starts; a sidecar (restartPolicy Always) only has
// to have started. failed means an init container failed under policy Never.
func (p *plan) initContainers(in decideInput) (initialized, failed bool) {
	for _, c := range in.pod.Spec.InitContainers {
		last := in.runs.latest(c.Name)
		if isSidecar(c) {
			p.container(in, c, true)
			if last == nil || last.StartedAt.IsZero() {
				return false, false
			}
			continue
		}
		switch {
		case last != nil && last.State == runtime.StateExited && last.ExitCode == 0:
			continue
		case last != nil && last.State == runtime.StateExited && in.pod.Spec.RestartPolicy == v1.RestartPolicyNever:
			return false, true
		}
		p.container(in, c, true)
		return false, false
	}
	return true, false
}

// ephemeralContainers starts the ephemeral containers that never ran. As
// upstream, they need not wait for the init containers (a debugger may be
// what finds why one fails), and they are never restarted: a run that
// ended stays ended, only an interrupted start is made again.
func (p *plan) ephemeralContainers(in decideInput) {
	for _, ec := range in.pod.Spec.EphemeralContainers {
		last := in.runs.latest(ec.Name)
		switch {
		case last == nil:
			p.actions = append(p.actions, action{kind: actStart, name: ec.Name, ephemeral: true})
		case last.State == runtime.StateCreated:
			p.actions = append(p.actions, action{kind: actStart, name: ec.Name, ephemeral: true, attempt: last.Attempt})
		}
	}
}

// container decides for one container: start it, or wait for its backoff.
func (p *plan) container(in decideInput, c v1.Container, init bool) {
	last := in.runs.latest(c.Name)
	switch {
	case last == nil:
		p.start(c.Name, init, firstAttempt(in.pod, c.Name))
	case last.State == runtime.StateCreated:
		p.start(c.Name, init, last.Attempt) // an interrupted start: again
	case last.State == runtime.StateExited && p.restarts(in, c, init, last):
		key := backoffKey(in.pod, c.Name)
		if wait := in.backoff.Remaining(key, last.FinishedAt, in.now); wait > 0 {
			p.backoff[c.Name] = fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
				in.backoff.Delay(key), c.Name, in.pod.Name, in.pod.Namespace, in.pod.UID)
			p.wakeIn(wait)
			return
		}
		p.start(c.Name, init, last.Attempt+1)
	}
}

// restarts applies the restart policy to an exited run.
func (p *plan) restarts(in decideInput, c v1.Container, init bool, last *runtime.Container) bool {
	policy := in.pod.Spec.RestartPolicy
	if in.killed[last.ID] == killChanged {
		return true
	}
	if init && isSidecar(c) {
		policy = v1.RestartPolicyAlways
	} else if init && policy == v1.RestartPolicyAlways {
		policy = v1.RestartPolicyOnFailure // an init container that succeeded is done
	}
	switch policy {
	case v1.RestartPolicyNever:
		return false
	case v1.RestartPolicyOnFailure:
		return last.ExitCode != 0 || in.killed[last.ID] == killProbe
	}
	return true
}

// appsFinished: every app container has exited and none will restart.
func (p *plan) appsFinished(in decideInput) bool {
	if in.pod.Spec.RestartPolicy == v1.RestartPolicyAlways {
		return false
	}
	for _, c := range in.pod.Spec.Containers {
		last := in.runs.latest(c.Name)
		if last == nil || last.State != runtime.StateExited || p.restarts(in, c, false, last) {
			return false
		}
	}
	return true
}

// Upstream's reason and message for a pod past its activeDeadlineSeconds.
const (
	deadlineReason  = "DeadlineExceeded"
	deadlineMessage = "Pod was active on the node longer than the specified deadline"
)

// deadlineLeft is how long the pod may still run under its
// activeDeadlineSeconds, counted from its status.startTime as upstream
// counts it; ok is false without a deadline or before the pod started.
func deadlineLeft(pod *v1.Pod, now time.Time) (left time.Duration, ok bool) {
	if pod.Spec.ActiveDeadlineSeconds == nil || pod.Status.StartTime == nil || pod.Status.StartTime.IsZero() {
		return 0, false
	}
	allowed := time.Duration(*pod.Spec.ActiveDeadlineSeconds) * time.Second
	return allowed - now.Sub(pod.Status.StartTime.Time), true
}

// kills reports whether the plan already stops the run.
func (p *plan) kills(id string) bool {
	for _, a := range p.actions {
		if a.kind == actKill && a.id == id {
			return true
		}
	}
	return false
}

func (p *plan) killAll(in decideInput, why string) {
	for _, list := range in.runs {
		if len(list) > 0 && list[0].State == runtime.StateRunning {
			p.actions = append(p.actions, action{kind: actKill, name: list[0].Name, id: list[0].ID, reason: why})
		}
	}
}

func (p *plan) start(name string, init bool, attempt int) {
	p.actions = append(p.actions, action{kind: actStart, name: name, init: init, attempt: attempt})
}

func (p *plan) wakeIn(d time.Duration) {
	if p.requeue == 0 || d < p.requeue {
		p.requeue = d
	}
}

// firstAttempt numbers a container's run when the runtime has none: one
// after what the API last showed, if it ever ran (its runs were lost with a
// node's containerd state), else 0.
func firstAttempt(pod *v1.Pod, name string) int {
	if st := findStatus(pod.Status, name); st != nil && st.ContainerID != "" {
		return int(st.RestartCount) + 1
	}
	return 0
}

func isSidecar(c v1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways
}

func backoffKey(pod *v1.Pod, name string) string {
	return string(pod.UID) + "/" + name
}

// findStatus is the status of the container called name, in whichever of
// the pod's lists it is: the API keeps names unique across init, app and
// ephemeral containers.
func findStatus(st v1.PodStatus, name string) *v1.ContainerStatus {
	for _, list := range [][]v1.ContainerStatus{st.InitContainerStatuses, st.ContainerStatuses, st.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}
