package pods

import (
	"encoding/json"
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
