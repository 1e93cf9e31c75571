package containerd

import (
	"testing"
	"time"

	"github.com/kinns/kinns/kubelet/runtime"
)

func TestFromLabels(t *testing.T) {
	s := runtime.Spec{Pod: runtime.PodRef{UID: "u", Namespace: "ns", Name: "p"}, Name: "app", Init: true, Attempt: 2,
		Image: runtime.Image{Ref: "img", ID: "img@sha256:1"}, LogPath: "/l/2.log", CgroupPath: "/cg"}
	l := specLabels(s, "SIGTERM")
	rec := fromLabels("id", l)
	if rec.State != runtime.StateCreated || rec.Attempt != 2 || !rec.Init || rec.Ephemeral || rec.Pod != s.Pod || rec.LogPath != "/l/2.log" {
		t.Errorf("created: %+v", rec)
	}
	s.Init, s.Ephemeral = false, true
	if rec := fromLabels("id", specLabels(s, "SIGTERM")); rec.Init || !rec.Ephemeral {
		t.Errorf("ephemeral: %+v", rec)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 5, time.UTC)
	l[runtime.LabelStartedAt] = stamp(start)
	if rec = fromLabels("id", l); rec.State != runtime.StateRunning || !rec.StartedAt.Equal(start) {
		t.Errorf("running: %+v", rec)
	}
	l[runtime.LabelFinishedAt], l[runtime.LabelExitCode], l[runtime.LabelReason] = stamp(start.Add(time.Second)), "137", runtime.ReasonOOMKilled
	if rec = fromLabels("id", l); rec.State != runtime.StateExited || rec.ExitCode != 137 || rec.Reason != runtime.ReasonOOMKilled {
		t.Errorf("exited: %+v", rec)
	}
}

func TestExitReason(t *testing.T) {
	for _, tc := range []struct {
		e    exit
		oom  bool
		want string
	}{
		{exit{code: 0}, false, runtime.ReasonCompleted},
		{exit{code: 3}, false, runtime.ReasonError},
		{exit{code: 137}, true, runtime.ReasonOOMKilled},
		{exit{code: 137, lost: true}, false, runtime.ReasonUnknown},
	} {
		if got := exitReason(tc.e, tc.oom); got != tc.want {
			t.Errorf("%+v oom=%v: %s, want %s", tc.e, tc.oom, got, tc.want)
		}
	}
}

func TestImageID(t *testing.T) {
	if id := imageID("docker.io/library/nginx:1.27", "sha256:ab"); id != "docker.io/library/nginx@sha256:ab" {
		t.Errorf("image ID %s", id)
	}
}
