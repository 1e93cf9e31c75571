package podinputs

import (
	"os"
	"testing"
)

// The termination log is an empty, world-writable file per run, made anew
// on each start of the run.
func TestTerminationLogMount(t *testing.T) {
	in := New(testConfig(t), nil)
	m, err := in.terminationLogMount("uid-1", "app", 2, "/dev/termination-log")
	if err != nil {
		t.Fatal(err)
	}
	if m.ContainerPath != "/dev/termination-log" || m.ReadOnly || m.HostPath != in.TerminationLogPath("uid-1", "app", 2) {
		t.Errorf("mount %+v", m)
	}
	os.WriteFile(m.HostPath, []byte("left over"), 0o666)
	if _, err := in.terminationLogMount("uid-1", "app", 2, "/dev/termination-log"); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(m.HostPath)
	if err != nil || info.Mode() != 0o666 || info.Size() != 0 {
		t.Errorf("termination log %v, %v: want an empty file, mode 0666", info, err)
	}
}
