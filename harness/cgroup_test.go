package harness

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRemoveCgroupInEveryHierarchyDeepestFirst(t *testing.T) {
	root := t.TempDir()
	old := CgroupRoot
	CgroupRoot = root
	defer func() { CgroupRoot = old }()
	for _, h := range []string{"cpu", "memory", "unified"} {
		os.MkdirAll(filepath.Join(root, h, "kinns", "demo", "node-1", "podx", "c1"), 0o755)
		os.MkdirAll(filepath.Join(root, h, "kinns", "other"), 0o755)
	}
	if err := removeCgroup(LabCgroup("demo")); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"cpu", "memory", "unified"} {
		if _, err := os.Stat(filepath.Join(root, h, "kinns", "demo")); !os.IsNotExist(err) {
			t.Errorf("%s: lab cgroup left behind", h)
		}
		if _, err := os.Stat(filepath.Join(root, h, "kinns", "other")); err != nil {
			t.Errorf("%s: another lab's cgroup was removed", h)
		}
	}
	if err := removeCgroup(LabCgroup("demo")); err != nil {
		t.Errorf("second removal: %v", err)
	}
}
