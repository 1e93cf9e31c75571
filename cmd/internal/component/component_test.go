package component

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// A kind the binary has no runner for, or none at all, is an error that
// names the kinds it runs.
func TestUnknownKindIsAnError(t *testing.T) {
	noop := func(context.Context, Flags, *slog.Logger) error { return nil }
	for _, args := range [][]string{{"kubelet"}, {}} {
		cmd := NewCmd(map[string]Runner{"proxy": noop, "dns": noop})
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), "this binary runs dns, proxy") {
			t.Errorf("component %v: %v, want an error naming dns, proxy", args, err)
		}
	}
}

// --hostname is refused in the UTS namespace the process shares with its
// parent (it would rename the machine), and taken in one of its own.
func TestHostnameOnlyInAUTSNamespaceOfItsOwn(t *testing.T) {
	if name := os.Getenv("COMPONENT_TEST_HOSTNAME"); name != "" { // the child below
		if err := setHostname(name); err != nil {
			fmt.Println("error:", err)
			return
		}
		h, _ := os.Hostname()
		fmt.Println("hostname:", h)
		return
	}
	before, _ := os.Hostname()
	err := setHostname("not-the-machine")
	if err == nil || !strings.Contains(err.Error(), "UTS namespace") {
		t.Errorf("setHostname in the parent's UTS namespace: %v, want a refusal", err)
	}
	if after, _ := os.Hostname(); after != before {
		t.Fatalf("the machine was renamed %q (was %q)", after, before)
	}
	if os.Geteuid() != 0 {
		t.Skip("a UTS namespace of its own needs root")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHostnameOnlyInAUTSNamespaceOfItsOwn$")
	cmd.Env = append(os.Environ(), "COMPONENT_TEST_HOSTNAME=cp-2")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hostname: cp-2") {
		t.Errorf("in a UTS namespace of its own: %v\n%s", err, out)
	}
	if after, _ := os.Hostname(); after != before {
		t.Errorf("the machine was renamed %q (was %q)", after, before)
	}
}
