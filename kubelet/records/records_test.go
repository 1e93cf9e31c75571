package records

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestRecords(t *testing.T) {
	dir := t.TempDir()
	for _, r := range []Record{
		{Pod: PodRef{UID: "u1", Namespace: "default", Name: "web"}, Netns: "lab-node-1-0a"},
		{Pod: PodRef{UID: "u2", Namespace: "default", Name: "db"}, Netns: "lab-node-1-0b"},
	} {
		if err := Write(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	// A folder without a record, and a record in another pod's folder,
	// are no pods' records.
	os.MkdirAll(PodDir(dir, "u3"), 0o755)
	os.MkdirAll(PodDir(dir, "u4"), 0o755)
	b, _ := os.ReadFile(filepath.Join(PodDir(dir, "u1"), "sandbox.json"))
	os.WriteFile(filepath.Join(PodDir(dir, "u4"), "sandbox.json"), b, 0o644)

	if got := Netns(dir); !slices.Equal(got, []string{"lab-node-1-0a", "lab-node-1-0b"}) {
		t.Errorf("Netns = %v", got)
	}
	if ns, ok := NetnsOf(dir, "u2"); !ok || ns != "lab-node-1-0b" {
		t.Errorf("NetnsOf(u2) = %q, %v", ns, ok)
	}
	if _, ok := NetnsOf(dir, "u3"); ok {
		t.Error("NetnsOf found a namespace for a pod with no record")
	}
	if got := Netns(t.TempDir()); got != nil {
		t.Errorf("Netns of an empty folder = %v", got)
	}
}
