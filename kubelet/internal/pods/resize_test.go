package pods

import (
	"context"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kinns/kinns/kubelet/internal/podinputs"
	"github.com/kinns/kinns/kubelet/runtime"
)

func rl(kv ...string) v1.ResourceList {
	out := v1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[v1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func TestAdmitResize(t *testing.T) {
	allocatable := rl("cpu", "1900m", "memory", "1920Mi")
	for _, tc := range []struct {
		name       string
		want, used v1.ResourceList
		reason     string
		message    string
	}{
		{name: "fits", want: rl("cpu", "500m", "memory", "100Mi"), used: rl("cpu", "1", "memory", "1Gi")},
		{name: "fits exactly", want: rl("cpu", "900m"), used: rl("cpu", "1")},
		{name: "others in the way: deferred", want: rl("cpu", "1"), used: rl("cpu", "1"), reason: v1.PodReasonDeferred,
			message: "Node didn't have enough resource: cpu, requested: 1000, used: 1000, capacity: 1900"},
		{name: "more than the node: infeasible", want: rl("memory", "2Gi"), reason: v1.PodReasonInfeasible,
			message: "Node didn't have enough capacity: memory, requested: 2147483648, capacity: 2013265920"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := admitResize(tc.want, tc.used, allocatable)
			switch {
			case tc.reason == "" && got != nil:
				t.Errorf("pending %+v, want it to fit", *got)
			case tc.reason != "" && (got == nil || got.reason != tc.reason || got.message != tc.message):
				t.Errorf("pending %+v, want %s %q", got, tc.reason, tc.message)
			}
		})
	}
}

// applied is a running run of app whose cgroup holds what r calls for.
func applied(r v1.ResourceRequirements, restartCount int) runtime.Container {
	run := mkRun("app", restartCount, "running")
	run.Resources = podinputs.Resources(&v1.Container{Resources: r})
	return run
}

func TestDecideResize(t *testing.T) {
	small := v1.ResourceRequirements{Requests: rl("cpu", "100m", "memory", "64Mi"), Limits: rl("cpu", "200m", "memory", "128Mi")}
	restartMem := []v1.ContainerResizePolicy{{ResourceName: v1.ResourceMemory, RestartPolicy: v1.RestartContainer}}
	for _, tc := range []struct {
		name   string
		to     v1.ResourceRequirements
		policy []v1.ContainerResizePolicy
		run    runtime.Container
		want   string
		then   killKind
	}{
		{name: "as allocated: nothing", to: small, run: applied(small, 0)},
		{name: "cpu up: updated in place", to: v1.ResourceRequirements{Requests: rl("cpu", "200m", "memory", "64Mi"), Limits: rl("cpu", "400m", "memory", "128Mi")},
			run: applied(small, 0), want: "update app-0 shares=204,quota=40000,period=100000,memory=134217728"},
		{name: "limits removed: lifted", to: v1.ResourceRequirements{Requests: small.Requests},
			run: applied(small, 0), want: "update app-0 shares=102,quota=0,period=0,memory=0"},
		{name: "memory with RestartContainer: restarted", to: v1.ResourceRequirements{Requests: small.Requests, Limits: rl("cpu", "200m", "memory", "256Mi")},
			policy: restartMem, run: applied(small, 0), want: "kill app-0", then: killChanged},
		{name: "cpu only under a memory restart policy: in place", to: v1.ResourceRequirements{Requests: rl("cpu", "150m", "memory", "64Mi"), Limits: small.Limits},
			policy: restartMem, run: applied(small, 0), want: "update app-0 shares=153,quota=20000,period=100000,memory=134217728"},
		{name: "memory request alone: no cgroup change", to: v1.ResourceRequirements{Requests: rl("cpu", "100m", "memory", "100Mi"), Limits: small.Limits},
			policy: restartMem, run: applied(small, 0)},
		{name: "equivalents (2m to 1m, 10m to 5m): same cgroup", to: v1.ResourceRequirements{Requests: rl("cpu", "1m"), Limits: rl("cpu", "5m")},
			run: applied(v1.ResourceRequirements{Requests: rl("cpu", "2m"), Limits: rl("cpu", "10m")}, 0)},
		{name: "run with unrecorded limits: left alone", to: small, run: mkRun("app", 0, "running")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod("p", func(p *v1.Pod) {
				p.Spec.Containers[0].Resources = tc.to
				p.Spec.Containers[0].ResizePolicy = tc.policy
			})
			p := decide(decideInput{pod: pod, runs: groupRuns([]runtime.Container{tc.run}),
				backoff: newRestartBackoff(time.Second, time.Minute, 0), now: t0})
			if got := describe(p); got != tc.want {
				t.Errorf("plan %q, want %q", got, tc.want)
			}
			for _, a := range p.actions {
				if a.kind == actKill && (a.then != tc.then || !a.resize) {
					t.Errorf("kill then %d resize %v, want then %d for a resize", a.then, a.resize, tc.then)
				}
			}
			if inProgress := resizeInProgress(pod, groupRuns([]runtime.Container{tc.run})); inProgress != (tc.want != "") {
				t.Errorf("resize in progress %v with plan %q", inProgress, tc.want)
			}
		})
	}
}

func TestResizeStatus(t *testing.T) {
	was := v1.ResourceRequirements{Requests: rl("cpu", "100m", "memory", "64Mi"), Limits: rl("memory", "128Mi")}
	now := v1.ResourceRequirements{Requests: rl("cpu", "200m", "memory", "64Mi"), Limits: rl("cpu", "500m", "memory", "128Mi")}
	pod := testPod("p", func(p *v1.Pod) { p.Spec.Containers[0].Resources = now })

	t.Run("applied: the allocated resources, no resize condition", func(t *testing.T) {
		st := podStatus(statusInput{pod: pod, runs: groupRuns([]runtime.Container{applied(now, 0)}), now: t0})
		cs := st.ContainerStatuses[0]
		if cs.Resources == nil || !equality.Semantic.DeepEqual(*cs.Resources, now) ||
			!equality.Semantic.DeepEqual(cs.AllocatedResources, now.Requests) {
			t.Errorf("resources %+v allocated %v, want %+v", cs.Resources, cs.AllocatedResources, now)
		}
		for _, c := range st.Conditions {
			if c.Type == v1.PodResizeInProgress || c.Type == v1.PodResizePending {
				t.Errorf("condition %+v", c)
			}
		}
	})
	t.Run("not yet applied: the cgroup's, in progress", func(t *testing.T) {
		st := podStatus(statusInput{pod: pod, runs: groupRuns([]runtime.Container{applied(was, 0)}), now: t0})
		got := st.ContainerStatuses[0].Resources
		want := v1.ResourceRequirements{Requests: rl("cpu", "100m", "memory", "64Mi"), Limits: rl("memory", "128Mi")}
		if got == nil || !equality.Semantic.DeepEqual(*got, want) {
			t.Errorf("resources %+v, want %+v", got, want)
		}
		if c := findCondition(st.Conditions, v1.PodResizeInProgress); c == nil || c.Status != v1.ConditionTrue || c.Reason != "" {
			t.Errorf("in progress condition %+v", c)
		}
	})
	t.Run("pending and failed", func(t *testing.T) {
		old := pod.DeepCopy()
		old.Generation = 3
		old.Status.Conditions = append(old.Status.Conditions, v1.PodCondition{Type: v1.PodResizePending, Status: v1.ConditionTrue, Reason: "Deferred"})
		st := podStatus(statusInput{pod: old, runs: groupRuns([]runtime.Container{applied(now, 0)}), now: t0,
			resizePending: &pendingResize{reason: v1.PodReasonInfeasible, message: "too big"}, resizeError: "below usage"})
		p := findCondition(st.Conditions, v1.PodResizePending)
		if p == nil || p.Reason != v1.PodReasonInfeasible || p.Message != "too big" || p.ObservedGeneration != 3 {
			t.Errorf("pending condition %+v", p)
		}
		if c := findCondition(st.Conditions, v1.PodResizeInProgress); c == nil || c.Reason != v1.PodReasonError || c.Message != "below usage" {
			t.Errorf("in progress condition %+v", c)
		}
		n := 0
		for _, c := range st.Conditions {
			if c.Type == v1.PodResizePending {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d PodResizePending conditions", n)
		}
	})
	t.Run("no resources: an empty requirement, no allocated", func(t *testing.T) {
		st := podStatus(statusInput{pod: testPod("q"), now: t0})
		cs := st.ContainerStatuses[0]
		if cs.Resources == nil || cs.AllocatedResources != nil {
			t.Errorf("resources %+v allocated %v", cs.Resources, cs.AllocatedResources)
		}
	})
}

func TestAllocationsKeptOnDisk(t *testing.T) {
	dir := t.TempDir()
	at := func(uid types.UID) string { return dir + "/" + string(uid) }
	pod := testPod("p", func(p *v1.Pod) {
		p.Spec.Containers[0].Resources = v1.ResourceRequirements{Requests: rl("cpu", "250m")}
	})
	if err := newAllocations(at).set(pod.UID, allocationOf(pod)); err != nil {
		t.Fatal(err)
	}
	got, ok, err := newAllocations(at).get(pod.UID) // a restarted kubelet
	if err != nil || !ok || !got.equal(allocationOf(pod)) {
		t.Fatalf("read back %v %v %v", got, ok, err)
	}
	if _, ok, err := newAllocations(at).get("other"); ok || err != nil {
		t.Errorf("unknown pod: %v %v", ok, err)
	}
	ap := withAllocation(testPod("p"), got)
	if q := ap.Spec.Containers[0].Resources.Requests.Cpu(); q.MilliValue() != 250 {
		t.Errorf("pod with allocation asks for %s", q)
	}
}

// resizePod changes the app container's resources as the resize
// subresource does: the spec, and the generation.
func resizePod(t *testing.T, tk *testKubelet, name string, r v1.ResourceRequirements) {
	t.Helper()
	p, err := tk.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.Containers[0].Resources = r
	p.Generation++
	if _, err := tk.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestResizeAppliedInPlace(t *testing.T) {
	tk := startTestKubelet(t)
	tk.create(t, testPod("web", func(p *v1.Pod) {
		p.Generation = 1
		p.Spec.Containers[0].Resources = v1.ResourceRequirements{Requests: rl("cpu", "100m", "memory", "64Mi"), Limits: rl("cpu", "200m", "memory", "128Mi")}
	}))
	tk.waitPod(t, "web", "ready", podIsReady)

	bigger := v1.ResourceRequirements{Requests: rl("cpu", "300m", "memory", "64Mi"), Limits: rl("cpu", "600m", "memory", "256Mi")}
	resizePod(t, tk, "web", bigger)
	p := tk.waitPod(t, "web", "resized", func(p *v1.Pod) bool {
		cs := appStatus(p)
		return p.Status.ObservedGeneration == 2 && cs.Resources != nil && equality.Semantic.DeepEqual(*cs.Resources, bigger)
	})
	if cs := appStatus(p); cs.RestartCount != 0 || !equality.Semantic.DeepEqual(cs.AllocatedResources, bigger.Requests) {
		t.Errorf("restarts %d allocated %v", cs.RestartCount, cs.AllocatedResources)
	}
	run, _ := tk.rt.running("app")
	if run.Resources != podinputs.Resources(&v1.Container{Resources: bigger}) {
		t.Errorf("run has %s", run.Resources)
	}

	// More memory than the node has: Infeasible; the container keeps its limits.
	resizePod(t, tk, "web", v1.ResourceRequirements{Requests: rl("cpu", "300m", "memory", "3Gi"), Limits: rl("cpu", "600m", "memory", "3Gi")})
	p = tk.waitPod(t, "web", "infeasible", func(p *v1.Pod) bool {
		c := findCondition(p.Status.Conditions, v1.PodResizePending)
		return c != nil && c.Reason == v1.PodReasonInfeasible && c.ObservedGeneration == 3
	})
	if cs := appStatus(p); !equality.Semantic.DeepEqual(*cs.Resources, bigger) {
		t.Errorf("infeasible resize changed the resources to %+v", cs.Resources)
	}
	if n := len(tk.rt.updates); n != 1 {
		t.Errorf("updates %q, want one", tk.rt.updates)
	}
}

func TestMemoryLimitBelowUsageWaits(t *testing.T) {
	tk := startTestKubelet(t)
	tk.create(t, testPod("web", func(p *v1.Pod) {
		p.Spec.Containers[0].Resources = v1.ResourceRequirements{Limits: rl("memory", "128Mi")}
	}))
	tk.waitPod(t, "web", "ready", podIsReady)
	tk.rt.mu.Lock()
	tk.rt.usage = 100 << 20
	tk.rt.mu.Unlock()
	resizePod(t, tk, "web", v1.ResourceRequirements{Limits: rl("memory", "64Mi")})
	tk.waitPod(t, "web", "stuck below usage", func(p *v1.Pod) bool {
		c := findCondition(p.Status.Conditions, v1.PodResizeInProgress)
		return c != nil && c.Reason == v1.PodReasonError && strings.Contains(c.Message, "below current usage")
	})
	tk.rt.mu.Lock()
	tk.rt.usage = 10 << 20
	tk.rt.mu.Unlock()
	tk.waitPod(t, "web", "resized once usage fell", func(p *v1.Pod) bool {
		cs := appStatus(p)
		return findCondition(p.Status.Conditions, v1.PodResizeInProgress) == nil &&
			cs.Resources != nil && cs.Resources.Limits.Memory().Value() == 64<<20
	})
}
