package runtime

import (
	"regexp"
	"strings"
	"testing"
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
}
