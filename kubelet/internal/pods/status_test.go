package pods

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kinns/kinns/kubelet/runtime"
)

func TestPodPhase(t *testing.T) {
	never, onFailure := v1.RestartPolicyNever, v1.RestartPolicyOnFailure
	for _, tc := range []struct {
		name    string
		policy  v1.RestartPolicy
		runs    []runtime.Container
		waiting map[string]waiting
		final   bool
		want    v1.PodPhase
	}{
		{name: "nothing yet", want: v1.PodPending},
		{name: "running", runs: []runtime.Container{mkRun("app", 0, "running")}, want: v1.PodRunning},
		{name: "crash looping is Running", runs: []runtime.Container{mkRun("app", 2, "exit:1")},
			waiting: map[string]waiting{"app": {Reason: "CrashLoopBackOff"}}, want: v1.PodRunning},
		{name: "never, exit 0", policy: never, runs: []runtime.Container{mkRun("app", 0, "exit:0")}, want: v1.PodSucceeded},
		{name: "never, exit 1", policy: never, runs: []runtime.Container{mkRun("app", 0, "exit:1")}, want: v1.PodFailed},
		{name: "onFailure, exit 1 restarts", policy: onFailure, runs: []runtime.Container{mkRun("app", 0, "exit:1")}, want: v1.PodRunning},
		{name: "deleted, stopped cleanly", runs: []runtime.Container{mkRun("app", 0, "exit:0")}, final: true, want: v1.PodSucceeded},
		{name: "deleted, killed", runs: []runtime.Container{mkRun("app", 0, "exit:137")}, final: true, want: v1.PodFailed},
		{name: "deleted before it ran", final: true, want: v1.PodFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod("p")
			if tc.policy != "" {
				pod.Spec.RestartPolicy = tc.policy
			}
			st := podStatus(statusInput{pod: pod, runs: groupRuns(tc.runs), waiting: tc.waiting, final: tc.final, now: t0})
			if st.Phase != tc.want {
				t.Errorf("phase %s, want %s", st.Phase, tc.want)
			}
		})
	}
}

func TestContainerStatuses(t *testing.T) {
	pod := testPod("p", func(p *v1.Pod) {
		p.Spec.Containers = append(p.Spec.Containers,
			v1.Container{Name: "probed", ReadinessProbe: &v1.Probe{}},
			v1.Container{Name: "slow", StartupProbe: &v1.Probe{}},
			v1.Container{Name: "pulling"})
		p.Spec.ReadinessGates = []v1.PodReadinessGate{{ConditionType: "example.com/gate"}}
	})
	rs := groupRuns([]runtime.Container{
		mkRun("app", 1, "running"), mkRun("app", 0, "exit:3"),
		mkRun("probed", 0, "running"), mkRun("slow", 0, "running"),
	})
	in := statusInput{pod: pod, runs: rs, now: t0, sandboxReady: true, podIP: "10.244.1.9", hostIP: "10.89.0.21",
		waiting: map[string]waiting{"pulling": {Reason: "ImagePullBackOff", Message: `Back-off pulling image "x"`}},
		probes:  probeResults{ready: map[string]bool{"probed-0": true}, started: map[string]bool{}}}
	st := podStatus(in)
	byName := map[string]v1.ContainerStatus{}
	for _, cs := range st.ContainerStatuses {
		byName[cs.Name] = cs
	}
	app := byName["app"]
	if !app.Ready || app.RestartCount != 1 || app.LastTerminationState.Terminated == nil || app.LastTerminationState.Terminated.ExitCode != 3 {
		t.Errorf("app %+v", app)
	}
	if !byName["probed"].Ready {
		t.Errorf("probed not ready: %+v", byName["probed"])
	}
	if s := byName["slow"]; s.Ready || s.Started == nil || *s.Started {
		t.Errorf("slow (startup probe pending) %+v", s)
	}
	if w := byName["pulling"].State.Waiting; w == nil || w.Reason != "ImagePullBackOff" {
		t.Errorf("pulling %+v", byName["pulling"].State)
	}
	cr := findCondition(st.Conditions, v1.ContainersReady)
	if cr.Status != v1.ConditionFalse || cr.Message != "containers with unready status: [slow pulling]" {
		t.Errorf("ContainersReady %+v", cr)
	}
	if c := findCondition(st.Conditions, v1.PodReadyToStartContainers); c.Status != v1.ConditionTrue {
		t.Errorf("PodReadyToStartContainers %+v", c)
	}

	// All ready but a readiness gate is missing: Ready stays False.
	in.probes.started["slow-0"] = true
	delete(in.waiting, "pulling")
	in.runs["pulling"] = []runtime.Container{mkRun("pulling", 0, "running")}
	st = podStatus(in)
	if c := findCondition(st.Conditions, v1.PodReady); c.Status != v1.ConditionFalse || c.Reason != "ReadinessGatesNotReady" {
		t.Errorf("Ready with a missing gate %+v", c)
	}
	// Transition times hold while the status does.
	pod.Status = st
	in.now = t0.Add(time.Minute)
	again := podStatus(in)
	if a, b := findCondition(again.Conditions, v1.ContainersReady), findCondition(st.Conditions, v1.ContainersReady); !a.LastTransitionTime.Equal(&b.LastTransitionTime) {
		t.Errorf("transition time moved: %v -> %v", b.LastTransitionTime, a.LastTransitionTime)
	}
	if p := findCondition(again.Conditions, v1.PodScheduled); p == nil {
		t.Error("PodScheduled (the scheduler's) dropped")
	}
}

func TestStatusPatch(t *testing.T) {
	pod := testPod("p")
	st := pod.Status
	if p, err := statusPatch(pod, st); err != nil || p != nil {
		t.Fatalf("no change: %s, %v", p, err)
	}
	st.Phase = v1.PodRunning
	st.PodIP = "10.244.1.3"
	st.StartTime = &metav1.Time{Time: t0}
	p, err := statusPatch(pod, st)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(p, &m)
	if !strings.Contains(string(p), `"uid":"uid-p"`) || m["status"] == nil || strings.Contains(string(p), "PodScheduled") {
		t.Errorf("patch %s", p)
	}
}

// The init container statuses and Initialized condition upstream's
// conformance suite (InitContainer, common/node) watches for.
func TestInitContainerStatuses(t *testing.T) {
	never := v1.RestartPolicyNever
	for _, tc := range []struct {
		name    string
		policy  v1.RestartPolicy
		runs    []runtime.Container
		waiting map[string]waiting
		// want: the phase, then each init and app container as
		// "state/reason ready", then Initialized as "status reason message".
		phase v1.PodPhase
		want  string
		init  string
	}{
		{name: "nothing ran yet", phase: v1.PodPending,
			want: "waiting/PodInitializing false, waiting/PodInitializing false, waiting/PodInitializing false",
			init: "False ContainersNotInitialized containers with incomplete status: [init1 init2]"},
		{name: "first running", runs: []runtime.Container{mkRun("init1", 0, "running")}, phase: v1.PodPending,
			want: "running false, waiting/PodInitializing false, waiting/PodInitializing false",
			init: "False ContainersNotInitialized containers with incomplete status: [init1 init2]"},
		{name: "first in backoff", runs: []runtime.Container{mkRun("init1", 1, "exit:1"), mkRun("init1", 0, "exit:1")},
			waiting: map[string]waiting{"init1": {Reason: "CrashLoopBackOff"}}, phase: v1.PodPending,
			want: "waiting/CrashLoopBackOff false, waiting/PodInitializing false, waiting/PodInitializing false",
			init: "False ContainersNotInitialized containers with incomplete status: [init1 init2]"},
		{name: "initialized, app starting", runs: []runtime.Container{mkRun("init1", 0, "exit:0"), mkRun("init2", 0, "exit:0")},
			phase: v1.PodPending,
			want:  "terminated/0 true, terminated/0 true, waiting/PodInitializing false",
			init:  "True  "},
		{name: "running", runs: []runtime.Container{mkRun("init1", 0, "exit:0"), mkRun("init2", 0, "exit:0"), mkRun("app", 0, "running")},
			phase: v1.PodRunning,
			want:  "terminated/0 true, terminated/0 true, running true",
			init:  "True  "},
		{name: "never: succeeded", policy: never, phase: v1.PodSucceeded,
			runs: []runtime.Container{mkRun("init1", 0, "exit:0"), mkRun("init2", 0, "exit:0"), mkRun("app", 0, "exit:0")},
			want: "terminated/0 true, terminated/0 true, terminated/0 false",
			init: "True PodCompleted "},
		{name: "never: second failed", policy: never, phase: v1.PodFailed,
			runs: []runtime.Container{mkRun("init1", 0, "exit:0"), mkRun("init2", 0, "exit:1")},
			want: "terminated/0 true, terminated/1 false, waiting/PodInitializing false",
			init: "False ContainersNotInitialized containers with incomplete status: [init2]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod("p", func(p *v1.Pod) {
				p.Spec.InitContainers = []v1.Container{{Name: "init1"}, {Name: "init2"}}
				if tc.policy != "" {
					p.Spec.RestartPolicy = tc.policy
				}
			})
			st := podStatus(statusInput{pod: pod, runs: groupRuns(tc.runs), waiting: tc.waiting, now: t0})
			var got []string
			for _, cs := range append(st.InitContainerStatuses, st.ContainerStatuses...) {
				got = append(got, fmt.Sprintf("%s %t", stateOf(cs.State), cs.Ready))
			}
			if st.Phase != tc.phase || strings.Join(got, ", ") != tc.want {
				t.Errorf("phase %s, statuses %s\nwant %s, %s", st.Phase, strings.Join(got, ", "), tc.phase, tc.want)
			}
			c := findCondition(st.Conditions, v1.PodInitialized)
			if got := fmt.Sprintf("%s %s %s", c.Status, c.Reason, c.Message); got != tc.init {
				t.Errorf("Initialized %q, want %q", got, tc.init)
			}
		})
	}
}

func stateOf(s v1.ContainerState) string {
	switch {
	case s.Running != nil:
		return "running"
	case s.Terminated != nil:
		return fmt.Sprintf("terminated/%d", s.Terminated.ExitCode)
	case s.Waiting != nil:
		return "waiting/" + s.Waiting.Reason
	}
	return "none"
}

// A patch computed from an informer that has not seen our last patch must
// still clear what that patch set: the base is the pod our patch returned.
func TestStatusPatchFromStaleInformer(t *testing.T) {
	informer := testPod("p")
	informer.ResourceVersion = "10"
	patched := informer.DeepCopy()
	patched.ResourceVersion = "11"
	patched.Status.Conditions = append(patched.Status.Conditions, v1.PodCondition{
		Type: v1.PodReady, Status: v1.ConditionFalse, Reason: "ContainersNotReady", Message: "containers with unready status: [c]",
	})
	want := informer.Status.DeepCopy()
	want.Conditions = append(want.Conditions, v1.PodCondition{Type: v1.PodReady, Status: v1.ConditionTrue})

	if got := patchBase(informer, patched); got != patched {
		t.Fatalf("base is the informer's (rv %s), want the patched pod (rv 11)", got.ResourceVersion)
	}
	p, err := statusPatch(patchBase(informer, patched), *want)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(p), `"reason":null`) || !strings.Contains(string(p), `"message":null`) {
		t.Errorf("patch %s does not clear Ready's reason and message", p)
	}
	// Once the informer catches up (or passes), it is the base again.
	informer.ResourceVersion = "12"
	if got := patchBase(informer, patched); got != informer {
		t.Errorf("base rv %s, want the informer's (12)", got.ResourceVersion)
	}
	other := patched.DeepCopy()
	other.UID = "another"
	other.ResourceVersion = "99"
	if got := patchBase(informer, other); got != informer {
		t.Error("the patched pod of another UID was used as base")
	}
}

func TestEphemeralContainerStatuses(t *testing.T) {
	pod := testPod("p", func(p *v1.Pod) {
		for _, name := range []string{"dbg", "done", "new"} {
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers,
				v1.EphemeralContainer{EphemeralContainerCommon: v1.EphemeralContainerCommon{Name: name, Image: "busybox"}})
		}
	})
	dbg := mkRun("dbg", 0, "running")
	dbg.ImageID = "docker.io/library/busybox@sha256:1"
	rs := groupRuns([]runtime.Container{mkRun("app", 0, "running"), dbg, mkRun("done", 0, "exit:1")})
	st := podStatus(statusInput{pod: pod, runs: rs, now: t0, sandboxReady: true, podIP: "10.244.1.9"})
	if len(st.EphemeralContainerStatuses) != 3 {
		t.Fatalf("ephemeral statuses %+v", st.EphemeralContainerStatuses)
	}
	got := st.EphemeralContainerStatuses[0]
	if got.Name != "dbg" || got.State.Running == nil || got.Ready || got.Started != nil || got.Image != "busybox" ||
		got.ImageID != dbg.ImageID || got.ContainerID != "containerd://dbg-0" || got.RestartCount != 0 {
		t.Errorf("running debugger %+v", got)
	}
	if got := st.EphemeralContainerStatuses[1]; got.State.Terminated == nil || got.State.Terminated.ExitCode != 1 {
		t.Errorf("ended debugger %+v", got)
	}
	if got := st.EphemeralContainerStatuses[2]; got.State.Waiting == nil || got.State.Waiting.Reason != "ContainerCreating" {
		t.Errorf("debugger not started yet %+v", got)
	}
	// Ephemeral containers count for neither the phase nor readiness.
	if st.Phase != v1.PodRunning || len(st.ContainerStatuses) != 1 {
		t.Errorf("phase %s, container statuses %d", st.Phase, len(st.ContainerStatuses))
	}
	for _, c := range st.Conditions {
		if (c.Type == v1.PodReady || c.Type == v1.ContainersReady) && c.Status != v1.ConditionTrue {
			t.Errorf("condition %s is %s: %s", c.Type, c.Status, c.Message)
		}
	}
}
