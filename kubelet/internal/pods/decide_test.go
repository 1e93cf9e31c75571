package pods

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/kinns/kinns/kubelet/runtime"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// run makes a run of container name: "running", "exit:N" or "created".
func mkRun(name string, attempt int, state string) runtime.Container {
	c := runtime.Container{ID: fmt.Sprintf("%s-%d", name, attempt), Name: name, Attempt: attempt, StartedAt: t0}
	switch {
	case state == "running":
		c.State = runtime.StateRunning
	case state == "created":
		c.State, c.StartedAt = runtime.StateCreated, time.Time{}
	default:
		fmt.Sscanf(state, "exit:%d", &c.ExitCode)
		c.State, c.FinishedAt = runtime.StateExited, t0.Add(time.Second)
	}
	return c
}

func withImage(c runtime.Container, img string) runtime.Container {
	c.Image = img
	return c
}

// describe renders a plan's actions as "start app/1 kill app-0".
func describe(p plan) string {
	var out []string
	for _, a := range p.actions {
		switch a.kind {
		case actStart:
			out = append(out, fmt.Sprintf("start %s/%d", a.name, a.attempt))
		case actUpdate:
			out = append(out, fmt.Sprintf("update %s %s", a.id, a.resources))
		default:
			out = append(out, "kill "+a.id)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestDecide(t *testing.T) {
	never, onFailure := v1.RestartPolicyNever, v1.RestartPolicyOnFailure
	always := v1.ContainerRestartPolicyAlways
	withInit := func(p *v1.Pod) {
		p.Spec.InitContainers = []v1.Container{{Name: "i1"}, {Name: "i2"}}
	}
	for _, tc := range []struct {
		name      string
		mut       func(*v1.Pod)
		runs      []runtime.Container
		unhealthy map[string]string
		inBackoff bool
		want      string
		done      bool
	}{
		{name: "fresh pod starts its containers", want: "start app/0"},
		{name: "running: nothing", runs: []runtime.Container{mkRun("app", 0, "running")}},
		{name: "crash restarts", runs: []runtime.Container{mkRun("app", 0, "exit:3")}, want: "start app/1"},
		{name: "crash in backoff waits", runs: []runtime.Container{mkRun("app", 1, "exit:3"), mkRun("app", 0, "exit:3")}, inBackoff: true},
		{name: "interrupted start is redone", runs: []runtime.Container{mkRun("app", 2, "created")}, want: "start app/2"},
		{name: "never: exit stays", mut: func(p *v1.Pod) { p.Spec.RestartPolicy = never },
			runs: []runtime.Container{mkRun("app", 0, "exit:1")}, done: true},
		{name: "onFailure: success stays", mut: func(p *v1.Pod) { p.Spec.RestartPolicy = onFailure },
			runs: []runtime.Container{mkRun("app", 0, "exit:0")}, done: true},
		{name: "onFailure: failure restarts", mut: func(p *v1.Pod) { p.Spec.RestartPolicy = onFailure },
			runs: []runtime.Container{mkRun("app", 0, "exit:1")}, want: "start app/1"},
		{name: "liveness failure kills", runs: []runtime.Container{mkRun("app", 0, "running")},
			unhealthy: map[string]string{"app-0": "Liveness probe failed: boom"}, want: "kill app-0"},
		{name: "first init container first", mut: withInit, want: "start i1/0"},
		{name: "init waits for the running one", mut: withInit, runs: []runtime.Container{mkRun("i1", 0, "running")}},
		{name: "then the next", mut: withInit, runs: []runtime.Container{mkRun("i1", 0, "exit:0")}, want: "start i2/0"},
		{name: "then the apps", mut: withInit, runs: []runtime.Container{mkRun("i1", 0, "exit:0"), mkRun("i2", 0, "exit:0")}, want: "start app/0"},
		{name: "failed init retried under Always", mut: withInit, runs: []runtime.Container{mkRun("i1", 0, "exit:1")}, want: "start i1/1"},
		{name: "failed init fails the pod under Never", mut: func(p *v1.Pod) { withInit(p); p.Spec.RestartPolicy = never },
			runs: []runtime.Container{mkRun("i1", 0, "exit:1")}, done: true},
		{name: "sidecar: next init once it started", mut: func(p *v1.Pod) {
			withInit(p)
			p.Spec.InitContainers[0].RestartPolicy = &always
		}, runs: []runtime.Container{mkRun("i1", 0, "running")}, want: "start i2/0"},
		{name: "sidecar killed when the job is done", mut: func(p *v1.Pod) {
			p.Spec.RestartPolicy = never
			p.Spec.InitContainers = []v1.Container{{Name: "side", RestartPolicy: &always}}
		}, runs: []runtime.Container{mkRun("side", 0, "running"), mkRun("app", 0, "exit:0")}, want: "kill side-0", done: true},
		{name: "image changed: restarted", mut: func(p *v1.Pod) { p.Spec.Containers[0].Image = "kinns.local/testapp:v2" },
			runs: []runtime.Container{withImage(mkRun("app", 0, "running"), "kinns.local/testapp:latest")}, want: "kill app-0"},
		{name: "containers lost: numbering goes on from the API", mut: func(p *v1.Pod) {
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", RestartCount: 5, ContainerID: "containerd://x"}}
		}, want: "start app/6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod("p")
			if tc.mut != nil {
				tc.mut(pod)
			}
			b := newRestartBackoff(10*time.Second, time.Minute, 0)
			if tc.inBackoff {
				b.Next(backoffKey(pod, "app"), t0)
			}
			p := decide(decideInput{pod: pod, runs: groupRuns(tc.runs), unhealthy: tc.unhealthy, backoff: b, now: t0.Add(2 * time.Second)})
			if got := describe(p); got != tc.want || p.done != tc.done {
				t.Errorf("plan %q done=%v, want %q done=%v", got, p.done, tc.want, tc.done)
			}
			for _, a := range p.actions {
				want := map[string]killKind{"liveness failure kills": killProbe, "image changed: restarted": killChanged}[tc.name]
				if a.kind == actKill && a.then != want {
					t.Errorf("kill %s followed by %d, want %d", a.id, a.then, want)
				}
			}
			if tc.inBackoff && (p.backoff["app"] == "" || p.requeue != 9*time.Second) {
				t.Errorf("backoff %v requeue %s", p.backoff, p.requeue)
			}
		})
	}
}

func TestBackoffSequence(t *testing.T) {
	b := newRestartBackoff(10*time.Second, 40*time.Second, 0)
	now, key := t0, "uid/app"
	var waits []time.Duration
	for range 6 {
		finished := now // crashes at once
		w := b.Remaining(key, finished, now)
		waits = append(waits, w)
		now = now.Add(w)
		b.Next(key, now)
	}
	if got := fmt.Sprint(waits); got != "[0s 10s 20s 40s 40s 40s]" {
		t.Errorf("waits %s", got)
	}
	// A run that lasted longer than Reset (2*max) starts over.
	later := now.Add(81 * time.Second)
	if w := b.Remaining(key, later, later); w != 0 {
		t.Errorf("after a long run: wait %s", w)
	}
	b.Next(key, later)
	if d := b.Delay(key); d != 10*time.Second {
		t.Errorf("delay after reset %s", d)
	}
	b.Forget("uid/")
	if d := b.Delay(key); d != 0 {
		t.Errorf("delay after forget %s", d)
	}
}

func TestKilledRunsRestart(t *testing.T) {
	for _, tc := range []struct {
		policy v1.RestartPolicy
		kind   killKind
		want   string
	}{
		{v1.RestartPolicyOnFailure, killProbe, "start app/1"},
		{v1.RestartPolicyNever, killProbe, ""},
		{v1.RestartPolicyNever, killChanged, "start app/1"},
		{v1.RestartPolicyOnFailure, killPlain, ""},
	} {
		pod := testPod("p", func(p *v1.Pod) { p.Spec.RestartPolicy = tc.policy })
		p := decide(decideInput{pod: pod, runs: groupRuns([]runtime.Container{mkRun("app", 0, "exit:0")}),
			killed: map[string]killKind{"app-0": tc.kind}, backoff: newRestartBackoff(time.Second, time.Second, 0), now: t0})
		if got := describe(p); got != tc.want {
			t.Errorf("%s, kill kind %d: %q, want %q", tc.policy, tc.kind, got, tc.want)
		}
	}
}

func TestAnyRunning(t *testing.T) {
	for _, tt := range []struct {
		name string
		runs []runtime.Container
		want bool
	}{
		{"none", nil, false},
		{"one running", []runtime.Container{mkRun("app", 0, "running"), mkRun("side", 0, "exit:0")}, true},
		{"all ended", []runtime.Container{mkRun("app", 0, "exit:0"), mkRun("side", 1, "exit:1")}, false},
		{"restarted after a crash", []runtime.Container{mkRun("app", 0, "exit:3"), mkRun("app", 1, "running")}, true},
		{"only created", []runtime.Container{mkRun("app", 0, "created")}, false},
	} {
		if got := groupRuns(tt.runs).anyRunning(); got != tt.want {
			t.Errorf("%s: anyRunning = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDecideEphemeral(t *testing.T) {
	never := v1.RestartPolicyNever
	debug := func(p *v1.Pod) {
		p.Spec.EphemeralContainers = []v1.EphemeralContainer{{EphemeralContainerCommon: v1.EphemeralContainerCommon{Name: "dbg"}}}
	}
	withInit := func(p *v1.Pod) {
		debug(p)
		p.Spec.InitContainers = []v1.Container{{Name: "i1"}}
	}
	for _, tc := range []struct {
		name string
		mut  func(*v1.Pod)
		runs []runtime.Container
		want string
		done bool
	}{
		{name: "added to a running pod: started", mut: debug,
			runs: []runtime.Container{mkRun("app", 0, "running")}, want: "start dbg/0"},
		{name: "running: nothing", mut: debug,
			runs: []runtime.Container{mkRun("app", 0, "running"), mkRun("dbg", 0, "running")}},
		{name: "ended with 0: never restarted", mut: debug,
			runs: []runtime.Container{mkRun("app", 0, "running"), mkRun("dbg", 0, "exit:0")}},
		{name: "failed: never restarted, even under Always", mut: debug,
			runs: []runtime.Container{mkRun("app", 0, "running"), mkRun("dbg", 0, "exit:1")}},
		{name: "interrupted start is redone", mut: debug,
			runs: []runtime.Container{mkRun("app", 0, "running"), mkRun("dbg", 0, "created")}, want: "start dbg/0"},
		{name: "does not wait for the init containers", mut: withInit,
			runs: []runtime.Container{mkRun("i1", 0, "running")}, want: "start dbg/0"},
		{name: "beside a failing init container", mut: withInit,
			runs: []runtime.Container{mkRun("i1", 0, "exit:1")}, want: "start dbg/0 start i1/1"},
		{name: "does not keep a finished pod alive", mut: func(p *v1.Pod) { debug(p); p.Spec.RestartPolicy = never },
			runs: []runtime.Container{mkRun("app", 0, "exit:0"), mkRun("dbg", 0, "running")}, want: "kill dbg-0", done: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod("p", tc.mut)
			p := decide(decideInput{pod: pod, runs: groupRuns(tc.runs), backoff: newRestartBackoff(time.Second, time.Second, 0), now: t0})
			if got := describe(p); got != tc.want || p.done != tc.done {
				t.Errorf("plan %q done=%v, want %q done=%v", got, p.done, tc.want, tc.done)
			}
			for _, a := range p.actions {
				if a.kind == actStart && a.ephemeral != (a.name == "dbg") {
					t.Errorf("start %s: ephemeral=%v", a.name, a.ephemeral)
				}
			}
		})
	}
}

func TestTargetRun(t *testing.T) {
	pod := testPod("p", func(p *v1.Pod) {
		p.Spec.EphemeralContainers = []v1.EphemeralContainer{
			{EphemeralContainerCommon: v1.EphemeralContainerCommon{Name: "alone"}},
			{EphemeralContainerCommon: v1.EphemeralContainerCommon{Name: "dbg"}, TargetContainerName: "app"},
		}
	})
	running := groupRuns([]runtime.Container{mkRun("app", 1, "running"), mkRun("app", 0, "exit:1")})
	if id, err := targetRun(pod, "dbg", running); id != "app-1" || err != nil {
		t.Errorf("target of dbg: %q, %v", id, err)
	}
	if id, err := targetRun(pod, "alone", running); id != "" || err != nil {
		t.Errorf("no target: %q, %v", id, err)
	}
	if _, err := targetRun(pod, "dbg", groupRuns([]runtime.Container{mkRun("app", 0, "exit:1")})); err == nil {
		t.Error("a target that does not run: no error")
	}
}
