package pods

import (
	"context"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ephemeralStatus(p *v1.Pod) v1.ContainerStatus {
	if len(p.Status.EphemeralContainerStatuses) == 0 {
		return v1.ContainerStatus{}
	}
	return p.Status.EphemeralContainerStatuses[0]
}

// An ephemeral container added to a running pod runs once: its end is
// reported and it is not started again; the pod stays Ready throughout.
func TestEphemeralContainerRunsOnce(t *testing.T) {
	tk := startTestKubelet(t)
	tk.create(t, testPod("debugged"))
	p := tk.waitPod(t, "debugged", "ready", podIsReady)

	p.Spec.EphemeralContainers = []v1.EphemeralContainer{{
		EphemeralContainerCommon: v1.EphemeralContainerCommon{Name: "dbg", Image: "kinns.local/testapp:latest", Args: []string{"env"}},
		TargetContainerName:      "app",
	}}
	if _, err := tk.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	p = tk.waitPod(t, "debugged", "debugger running", func(p *v1.Pod) bool { return ephemeralStatus(p).State.Running != nil })
	run, _ := tk.rt.running("dbg")
	app, _ := tk.rt.running("app")
	tk.rt.mu.Lock()
	spec := tk.rt.specs[run.ID]
	tk.rt.mu.Unlock()
	if !spec.Ephemeral || spec.Init || spec.SharePIDWith != app.ID || !slices.Equal(spec.Args, []string{"env"}) {
		t.Errorf("debugger spec %+v (app run %s)", spec, app.ID)
	}
	if cs := ephemeralStatus(p); cs.Ready || cs.Started != nil || cs.ContainerID != "containerd://"+run.ID || !podIsReady(p) {
		t.Errorf("debugger status %+v, pod ready %v", cs, podIsReady(p))
	}
	if path, err := tk.k.LogPath("default", "debugged", "dbg", false); err != nil || !strings.Contains(path, "dbg") {
		t.Errorf("log path %q, %v", path, err)
	}

	tk.rt.exit(run.ID, 1)
	p = tk.waitPod(t, "debugged", "debugger ended", func(p *v1.Pod) bool { return ephemeralStatus(p).State.Terminated != nil })
	if cs := ephemeralStatus(p); cs.State.Terminated.ExitCode != 1 || cs.RestartCount != 0 || !podIsReady(p) {
		t.Errorf("ended debugger %+v, pod ready %v", cs, podIsReady(p))
	}
	if got := strings.Join(tk.rt.startList(), ","); got != "app/0,dbg/0" {
		t.Errorf("starts %s", got)
	}
}
