package pods

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kinns/kinns/kubelet/config"
	"github.com/kinns/kinns/kubelet/probe"
	"github.com/kinns/kinns/kubelet/records"
	"github.com/kinns/kinns/kubelet/runtime"
)

func appStatus(p *v1.Pod) v1.ContainerStatus {
	if len(p.Status.ContainerStatuses) == 0 {
		return v1.ContainerStatus{}
	}
	return p.Status.ContainerStatuses[0]
}

// statusPatchWith returns the first pod status patch among the client's
// actions [from, to) that contains text, or "".
func (tk *testKubelet) statusPatchWith(from, to int, text string) string {
	for _, a := range tk.client.Actions()[from:to] {
		if p, ok := a.(k8stesting.PatchAction); ok && p.GetSubresource() == "status" && strings.Contains(string(p.GetPatch()), text) {
			return string(p.GetPatch())
		}
	}
	return ""
}

func TestCrashRestartsWithBackoff(t *testing.T) {
	tk := startTestKubelet(t)
	tk.create(t, testPod("crash"))
	tk.waitPod(t, "crash", "ready", podIsReady)

	// Crash 1: restarted at once, without a CrashLoopBackOff in between.
	// (Not timed: under load "at once" can take a few hundred ms.)
	run, _ := tk.rt.running("app")
	before := len(tk.client.Actions())
	tk.rt.exit(run.ID, 3)
	p := tk.waitPod(t, "crash", "restarted once", func(p *v1.Pod) bool {
		cs := appStatus(p)
		return cs.RestartCount == 1 && cs.State.Running != nil
	})
	restarted := len(tk.client.Actions())
	if patch := tk.statusPatchWith(before, restarted, "CrashLoopBackOff"); patch != "" {
		t.Errorf("the first crash was reported in back-off, want an immediate restart: %s", patch)
	}
	last := appStatus(p).LastTerminationState.Terminated
	if last == nil || last.ExitCode != 3 || last.Reason != "Error" || last.ContainerID != "containerd://"+run.ID {
		t.Fatalf("lastState after crash: %+v", appStatus(p).LastTerminationState)
	}

	// Crash 2: CrashLoopBackOff for BackoffInitial (200ms), then restarted.
	run, _ = tk.rt.running("app")
	crashed := time.Now()
	tk.rt.exit(run.ID, 3)
	p = tk.waitPod(t, "crash", "in CrashLoopBackOff", func(p *v1.Pod) bool {
		w := appStatus(p).State.Waiting
		return w != nil && w.Reason == "CrashLoopBackOff"
	})
	if tk.statusPatchWith(restarted, len(tk.client.Actions()), "CrashLoopBackOff") == "" {
		t.Error("the second crash's back-off is in no status patch: statusPatchWith cannot see what the first crash's check looks for")
	}
	if !strings.Contains(appStatus(p).State.Waiting.Message, "back-off 200ms restarting failed container=app pod=crash_default(uid-crash)") {
		t.Errorf("backoff message %q", appStatus(p).State.Waiting.Message)
	}
	if p.Status.Phase != v1.PodRunning || findCondition(p.Status.Conditions, v1.PodReady).Status != v1.ConditionFalse {
		t.Errorf("phase %s, ready %+v during backoff", p.Status.Phase, findCondition(p.Status.Conditions, v1.PodReady))
	}
	tk.waitPod(t, "crash", "restarted twice", func(p *v1.Pod) bool { return appStatus(p).RestartCount == 2 && appStatus(p).State.Running != nil })
	second := time.Since(crashed)

	// Crash 3: twice as long.
	run, _ = tk.rt.running("app")
	crashed = time.Now()
	tk.rt.exit(run.ID, 3)
	tk.waitPod(t, "crash", "restarted thrice", func(p *v1.Pod) bool { return appStatus(p).RestartCount == 3 && appStatus(p).State.Running != nil })
	third := time.Since(crashed)
	t.Logf("crash to running again: %s, %s (backoff 200ms, 400ms)", second.Round(time.Millisecond), third.Round(time.Millisecond))
	if second < 200*time.Millisecond || third < 400*time.Millisecond {
		t.Errorf("restart delays %s %s do not follow the backoff", second, third)
	}
	if got := tk.rt.startList(); strings.Join(got, ",") != "app/0,app/1,app/2,app/3" {
		t.Errorf("starts %v", got)
	}
	waitFor(t, "old runs removed", func() bool { return tk.rt.count() == 2 })
}

func TestRestartPolicies(t *testing.T) {
	for _, tc := range []struct {
		policy v1.RestartPolicy
		code   int
		phase  v1.PodPhase
	}{
		{v1.RestartPolicyNever, 0, v1.PodSucceeded},
		{v1.RestartPolicyNever, 1, v1.PodFailed},
		{v1.RestartPolicyOnFailure, 0, v1.PodSucceeded},
	} {
		t.Run(string(tc.policy)+"/"+string(rune('0'+tc.code)), func(t *testing.T) {
			tk := startTestKubelet(t)
			tk.create(t, testPod("job", func(p *v1.Pod) { p.Spec.RestartPolicy = tc.policy }))
			tk.waitPod(t, "job", "running", podIsReady)
			run, _ := tk.rt.running("app")
			tk.rt.exit(run.ID, tc.code)
			p := tk.waitPod(t, "job", "finished", func(p *v1.Pod) bool { return p.Status.Phase == tc.phase })
			cs := appStatus(p)
			if cs.State.Terminated == nil || int(cs.State.Terminated.ExitCode) != tc.code || cs.RestartCount != 0 {
				t.Errorf("container status %+v", cs)
			}
			want := "PodCompleted"
			if tc.phase == v1.PodFailed {
				want = "PodFailed"
			}
			if c := findCondition(p.Status.Conditions, v1.PodReady); c.Reason != want {
				t.Errorf("ready condition %+v", c)
			}
			waitFor(t, "network freed", func() bool { return !tk.net.has(string(p.UID)) })
			if len(tk.rt.startList()) != 1 {
				t.Errorf("starts %v", tk.rt.startList())
			}
		})
	}
}

func TestOnFailureRestartsFailures(t *testing.T) {
	tk := startTestKubelet(t)
	tk.create(t, testPod("job", func(p *v1.Pod) { p.Spec.RestartPolicy = v1.RestartPolicyOnFailure }))
	tk.waitPod(t, "job", "running", podIsReady)
	run, _ := tk.rt.running("app")
	tk.rt.exit(run.ID, 2)
	tk.waitPod(t, "job", "restarted", func(p *v1.Pod) bool { return appStatus(p).RestartCount == 1 && appStatus(p).State.Running != nil })
	run, _ = tk.rt.running("app")
	tk.rt.exit(run.ID, 0)
	tk.waitPod(t, "job", "succeeded", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodSucceeded })
}

func TestInitContainersRunInOrder(t *testing.T) {
	tk := startTestKubelet(t)
	tk.create(t, testPod("init", func(p *v1.Pod) {
		p.Spec.InitContainers = []v1.Container{
			{Name: "first", Image: "kinns.local/testapp:latest"},
			{Name: "second", Image: "kinns.local/testapp:latest"},
		}
	}))
	p := tk.waitPod(t, "init", "initializing", func(p *v1.Pod) bool {
		return len(p.Status.InitContainerStatuses) == 2 && p.Status.InitContainerStatuses[0].State.Running != nil
	})
	if p.Status.Phase != v1.PodPending || appStatus(p).State.Waiting == nil || appStatus(p).State.Waiting.Reason != "PodInitializing" {
		t.Fatalf("while init runs: phase %s, app %+v", p.Status.Phase, appStatus(p).State)
	}
	if c := findCondition(p.Status.Conditions, v1.PodInitialized); c.Status != v1.ConditionFalse || !strings.Contains(c.Message, "[first second]") {
		t.Errorf("initialized condition %+v", c)
	}
	first, _ := tk.rt.running("first")
	tk.rt.exit(first.ID, 1) // fails: retried (policy Always)
	waitFor(t, "first retried", func() bool { r, ok := tk.rt.running("first"); return ok && r.Attempt == 1 })
	first, _ = tk.rt.running("first")
	tk.rt.exit(first.ID, 0)
	waitFor(t, "second started", func() bool { _, ok := tk.rt.running("second"); return ok })
	second, _ := tk.rt.running("second")
	tk.rt.exit(second.ID, 0)
	p = tk.waitPod(t, "init", "ready", podIsReady)
	if got := strings.Join(tk.rt.startList(), ","); got != "first/0,first/1,second/0,app/0" {
		t.Errorf("start order %s", got)
	}
	if ic := p.Status.InitContainerStatuses[0]; ic.State.Terminated == nil || ic.RestartCount != 1 {
		t.Errorf("first init status %+v", ic)
	}
}

func TestGracefulDeletion(t *testing.T) {
	tk := startTestKubelet(t)
	tk.create(t, testPod("bye"))
	p := tk.waitPod(t, "bye", "ready", podIsReady)
	run, _ := tk.rt.running("app")

	// What the API server does on a graceful delete: set the timestamp and
	// grace period; the kubelet makes the final delete.
	now := metav1.Now()
	grace := int64(7)
	p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &now, &grace
	if _, err := tk.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod deleted", func() bool {
		_, err := tk.client.CoreV1().Pods("default").Get(context.Background(), "bye", metav1.GetOptions{})
		return err != nil
	})
	if g := tk.rt.stops[run.ID]; g != 7*time.Second {
		t.Errorf("stopped with grace %s, want 7s", g)
	}
	var del *k8stesting.DeleteActionImpl
	for _, a := range tk.client.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok && d.GetResource().Resource == "pods" {
			del = &d
		}
	}
	if del == nil || del.DeleteOptions.GracePeriodSeconds == nil || *del.DeleteOptions.GracePeriodSeconds != 0 ||
		del.DeleteOptions.Preconditions == nil || *del.DeleteOptions.Preconditions.UID != "uid-bye" {
		t.Fatalf("final delete %+v", del)
	}
	waitFor(t, "containers, network and records removed", func() bool {
		return tk.rt.count() == 0 && !tk.net.has("uid-bye") && len(records.Netns(tk.k.cfg.StateDir)) == 0
	})
}

func TestAdoptsRunningContainers(t *testing.T) {
	pod := testPod("kept", func(p *v1.Pod) {
		p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", RestartCount: 4}}
	})
	var id string
	tk := startTestKubelet(t, func(tk *testKubelet) {
		tk.create(t, pod)
		// A previous kubelet started run 4 of the container.
		c, _ := tk.rt.Start(context.Background(), runtime.Spec{
			Pod: podRefOf(pod), Name: "app", Attempt: 4, Image: runtime.Image{Ref: "kinns.local/testapp:latest"},
		})
		id = c.ID
		tk.rt.starts = nil
	})
	p := tk.waitPod(t, "kept", "ready", podIsReady)
	if cs := appStatus(p); cs.RestartCount != 4 || cs.ContainerID != "containerd://"+id {
		t.Errorf("adopted status %+v", cs)
	}
	time.Sleep(3 * tk.k.cfg.SyncInterval)
	if s := tk.rt.startList(); len(s) != 0 {
		t.Errorf("the kubelet started %v instead of adopting", s)
	}
}

func TestRemovesOrphans(t *testing.T) {
	orphan := testPod("gone")
	tk := startTestKubelet(t, func(tk *testKubelet) {
		tk.rt.Start(context.Background(), runtime.Spec{Pod: podRefOf(orphan), Name: "app", Image: runtime.Image{Ref: "x"}})
		tk.net.Add(context.Background(), cniRef(podRefOf(orphan)), "t-node-1-x")
	})
	waitFor(t, "orphan removed", func() bool { return tk.rt.count() == 0 && !tk.net.has("uid-gone") })
}

func TestImagePullFailure(t *testing.T) {
	tk := startTestKubelet(t, func(tk *testKubelet) { tk.rt.missing["registry.example/nope:1"] = true })
	tk.create(t, testPod("nopull", func(p *v1.Pod) { p.Spec.Containers[0].Image = "registry.example/nope:1" }))
	seen := map[string]bool{}
	tk.waitPod(t, "nopull", "in ErrImagePull and ImagePullBackOff", func(p *v1.Pod) bool {
		if w := appStatus(p).State.Waiting; w != nil {
			seen[w.Reason] = true
			if w.Reason == "ErrImagePull" && !strings.Contains(w.Message, "no such host") {
				t.Errorf("pull error message %q", w.Message)
			}
		}
		return seen["ErrImagePull"] && seen["ImagePullBackOff"] && p.Status.Phase == v1.PodPending
	})
	tk.rt.mu.Lock()
	delete(tk.rt.missing, "registry.example/nope:1")
	tk.rt.mu.Unlock()
	tk.waitPod(t, "nopull", "running once the image is there", podIsReady)
}

func TestLivenessFailureRestarts(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	tk := startTestKubelet(t, func(tk *testKubelet) {})
	tk.k.probe = func(ctx context.Context, pod *v1.Pod, c *v1.Container, p *v1.Probe, podIP, runID string) (probe.Result, string) {
		if p == c.ReadinessProbe || healthy.Load() {
			return probe.Success, ""
		}
		return probe.Failure, "HTTP probe failed with statuscode: 500"
	}
	tk.create(t, testPod("live", func(p *v1.Pod) {
		p.Spec.RestartPolicy = v1.RestartPolicyOnFailure
		probe := &v1.Probe{PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1}
		p.Spec.Containers[0].LivenessProbe = probe
		p.Spec.Containers[0].ReadinessProbe = probe.DeepCopy()
	}))
	tk.waitPod(t, "live", "ready", podIsReady)
	healthy.Store(false)
	p := tk.waitPod(t, "live", "restarted", func(p *v1.Pod) bool { return appStatus(p).RestartCount == 1 })
	// Killed for the probe: restarted even under OnFailure with exit 0.
	if lt := appStatus(p).LastTerminationState.Terminated; lt == nil || lt.ExitCode != 0 {
		t.Errorf("last state %+v", appStatus(p).LastTerminationState)
	}
}

// A container that cannot be created waits in CreateContainerConfigError
// and starts as soon as the pod changes once the cause is gone, with no
// crash-loop back-off, as upstream's pod worker retries.
func TestConfigErrorRetriedOnPodUpdate(t *testing.T) {
	tk := startTestKubelet(t, func(tk *testKubelet) {
		tk.config = func(c *config.Config) {
			c.BackoffInitial, c.BackoffMax, c.BackoffReset = time.Hour, time.Hour, 2*time.Hour
		}
	})
	tk.create(t, testPod("conf", func(p *v1.Pod) {
		p.Spec.Containers[0].Env = []v1.EnvVar{{Name: "X", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{
			LocalObjectReference: v1.LocalObjectReference{Name: "later"}, Key: "x"}}}}
	}))
	for range 2 { // failed twice: a back-off would hold the next try an hour
		tk.waitPod(t, "conf", "waiting on its ConfigMap", func(p *v1.Pod) bool {
			w := appStatus(p).State.Waiting
			return w != nil && w.Reason == "CreateContainerConfigError"
		})
		touchPod(t, tk, "conf")
	}
	cm := &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "later", Namespace: "default"}, Data: map[string]string{"x": "1"}}
	if _, err := tk.client.CoreV1().ConfigMaps("default").Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	touchPod(t, tk, "conf")
	tk.waitPod(t, "conf", "running", podIsReady)
}

func touchPod(t *testing.T, tk *testKubelet, name string) {
	t.Helper()
	p, err := tk.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations["touched"] = time.Now().String()
	if _, err := tk.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestImageChangeRestartsWithoutNotReady: a container whose image changes in
// the pod's spec is stopped and started again with the new image in one
// sync, as upstream's kubelet does: no status in between shows the pod not
// ready (a client that reads the status right after its update, as the
// conformance test of the Pod lifecycle does, sees it Ready).
func TestImageChangeRestartsWithoutNotReady(t *testing.T) {
	tk := startTestKubelet(t)
	tk.create(t, testPod("swap"))
	p := tk.waitPod(t, "swap", "ready", podIsReady)
	p.Spec.Containers[0].Image = "kinns.local/testapp:v2"
	before := len(tk.client.Actions())
	if _, err := tk.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	tk.waitPod(t, "swap", "running the new image", func(p *v1.Pod) bool {
		cs := appStatus(p)
		return cs.RestartCount == 1 && cs.State.Running != nil && podIsReady(p)
	})
	for _, a := range tk.client.Actions()[before:] {
		pa, ok := a.(k8stesting.PatchActionImpl)
		if ok && pa.GetSubresource() == "status" && strings.Contains(string(pa.GetPatch()), `"status":"False","type":"Ready"`) {
			t.Errorf("a status patch showed the pod not ready: %s", pa.GetPatch())
		}
	}
}

func TestImageVolumePullFailure(t *testing.T) {
	const image = "registry.example/vol:1"
	tk := startTestKubelet(t, func(tk *testKubelet) { tk.rt.missing[image] = true })
	tk.create(t, testPod("imgvol", func(p *v1.Pod) {
		p.Spec.Volumes = []v1.Volume{{Name: "vol", VolumeSource: v1.VolumeSource{Image: &v1.ImageVolumeSource{Reference: image, PullPolicy: v1.PullIfNotPresent}}}}
		p.Spec.Containers[0].VolumeMounts = []v1.VolumeMount{{Name: "vol", MountPath: "/volume"}}
	}))
	seen := map[string]bool{}
	tk.waitPod(t, "imgvol", "in ErrImagePull and ImagePullBackOff", func(p *v1.Pod) bool {
		if w := appStatus(p).State.Waiting; w != nil {
			seen[w.Reason] = true
			if w.Reason == "ErrImagePull" && !strings.Contains(w.Message, "no such host") {
				t.Errorf("pull error message %q", w.Message)
			}
			if w.Reason == "ImagePullBackOff" && !strings.Contains(w.Message, `Back-off pulling image "`+image+`"`) {
				t.Errorf("back-off message %q", w.Message)
			}
		}
		return seen["ErrImagePull"] && seen["ImagePullBackOff"] && p.Status.Phase == v1.PodPending
	})
	if s := tk.rt.startList(); len(s) != 0 {
		t.Errorf("started %v without the volume's image", s)
	}
	tk.rt.mu.Lock()
	delete(tk.rt.missing, image)
	tk.rt.mu.Unlock()
	tk.waitPod(t, "imgvol", "running once the image is there", podIsReady)
	tk.rt.mu.Lock()
	defer tk.rt.mu.Unlock()
	for _, s := range tk.rt.specs {
		i := slices.IndexFunc(s.Mounts, func(m runtime.Mount) bool { return m.ContainerPath == "/volume" })
		if i < 0 || !s.Mounts[i].ReadOnly || !strings.HasSuffix(s.Mounts[i].HostPath, "/volumes/image/vol") {
			t.Errorf("mounts %+v: want the image volume read-only", s.Mounts)
		}
	}
}
