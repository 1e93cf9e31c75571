package runtime

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// containerd's identifier rule.
var idRE = regexp.MustCompile(`^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$`)

func TestSpecID(t *testing.T) {
	for _, s := range []Spec{
		{Pod: PodRef{Name: "web-0", UID: "u1"}, Name: "app", Attempt: 3},
		{Pod: PodRef{Name: strings.Repeat("very-long.pod--name-", 10), UID: "u2"}, Name: strings.Repeat("c-", 40), Attempt: 12345},
		{Pod: PodRef{Name: "-.-", UID: "u3"}, Name: "--"},
	} {
		id := s.ID()
		if len(id) > 76 || !idRE.MatchString(id) {
			t.Errorf("ID %q (%d bytes) is not a valid containerd ID", id, len(id))
		}
	}
	a := Spec{Pod: PodRef{Name: "web", UID: "a"}, Name: "app"}
	b := a
	b.Pod.UID = "b"
	if a.ID() == b.ID() || a.ID() != "web_app_"+shortHash("a")+"_0" {
		t.Errorf("IDs %q %q", a.ID(), b.ID())
	}
}

func TestFromLabels(t *testing.T) {
	s := Spec{Pod: PodRef{UID: "u", Namespace: "ns", Name: "p"}, Name: "app", Init: true, Attempt: 2,
		Image: Image{Ref: "img", ID: "img@sha256:1"}, LogPath: "/l/2.log", CgroupPath: "/cg"}
	l := specLabels(s, "SIGTERM")
	rec := fromLabels("id", l)
	if rec.State != StateCreated || rec.Attempt != 2 || !rec.Init || rec.Pod != s.Pod || rec.LogPath != "/l/2.log" {
		t.Errorf("created: %+v", rec)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 5, time.UTC)
	l[LabelStartedAt] = stamp(start)
	if rec = fromLabels("id", l); rec.State != StateRunning || !rec.StartedAt.Equal(start) {
		t.Errorf("running: %+v", rec)
	}
	l[LabelFinishedAt], l[LabelExitCode], l[LabelReason] = stamp(start.Add(time.Second)), "137", ReasonOOMKilled
	if rec = fromLabels("id", l); rec.State != StateExited || rec.ExitCode != 137 || rec.Reason != ReasonOOMKilled {
		t.Errorf("exited: %+v", rec)
	}
}

func TestExitReason(t *testing.T) {
	for _, tc := range []struct {
		e    exit
		oom  bool
		want string
	}{
		{exit{code: 0}, false, ReasonCompleted},
		{exit{code: 3}, false, ReasonError},
		{exit{code: 137}, true, ReasonOOMKilled},
		{exit{code: 137, lost: true}, false, ReasonUnknown},
	} {
		if got := exitReason(tc.e, tc.oom); got != tc.want {
			t.Errorf("%+v oom=%v: %s, want %s", tc.e, tc.oom, got, tc.want)
		}
	}
}

func TestNormalizeImage(t *testing.T) {
	for in, want := range map[string]string{
		"nginx":                      "docker.io/library/nginx:latest",
		"kinns.local/testapp:latest": "kinns.local/testapp:latest",
		"registry:5000/a/b@sha256:" + strings.Repeat("a", 64): "registry:5000/a/b@sha256:" + strings.Repeat("a", 64),
	} {
		if got, err := NormalizeImage(in); err != nil || got != want {
			t.Errorf("%s: %s, %v", in, got, err)
		}
	}
	if _, err := NormalizeImage("bad image/name"); err == nil {
		t.Error("invalid name accepted")
	}
	if id := imageID("docker.io/library/nginx:1.27", "sha256:ab"); id != "docker.io/library/nginx@sha256:ab" {
		t.Errorf("image ID %s", id)
	}
}
