package pods

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/kinns/kinns/kubelet/logs"
	"github.com/kinns/kinns/kubelet/runtime"
)

func TestTerminationMessage(t *testing.T) {
	const path = "/dev/termination-log"
	file := func(s string, err error) func() ([]byte, error) {
		return func() ([]byte, error) { return []byte(s), err }
	}
	tail := func() (string, error) { return "last lines\n", nil }
	missing := fs.ErrNotExist
	for _, c := range []struct {
		name     string
		path     string
		policy   v1.TerminationMessagePolicy
		run      runtime.Container
		file     func() ([]byte, error)
		want     string
		wantTail bool
	}{
		{name: "the file", path: path, policy: v1.TerminationMessageReadFile, run: runtime.Container{ExitCode: 0}, file: file("DONE", nil), want: "DONE"},
		{name: "file policy never reads the log", path: path, policy: v1.TerminationMessageReadFile, run: runtime.Container{ExitCode: 1}, file: file("", nil), want: ""},
		{name: "fallback, failed, empty file", path: path, policy: v1.TerminationMessageFallbackToLogsOnError, run: runtime.Container{ExitCode: 1}, file: file("", nil), want: "last lines\n"},
		{name: "fallback, failed, no file", path: path, policy: v1.TerminationMessageFallbackToLogsOnError, run: runtime.Container{ExitCode: 1}, file: file("", missing), want: "last lines\n"},
		{name: "fallback, no path", policy: v1.TerminationMessageFallbackToLogsOnError, run: runtime.Container{ExitCode: 2}, file: file("", missing), want: "last lines\n"},
		{name: "fallback, the file wins", path: path, policy: v1.TerminationMessageFallbackToLogsOnError, run: runtime.Container{ExitCode: 1}, file: file("oops", nil), want: "oops"},
		{name: "fallback, succeeded", path: path, policy: v1.TerminationMessageFallbackToLogsOnError, run: runtime.Container{ExitCode: 0}, file: file("", nil), want: ""},
		{name: "fallback, never started", path: path, policy: v1.TerminationMessageFallbackToLogsOnError,
			run: runtime.Container{ExitCode: 128, Reason: runtime.ReasonStartError, Message: "no such file"}, file: file("", missing), want: "no such file"},
		{name: "runtime message first", path: path, policy: v1.TerminationMessageReadFile, run: runtime.Container{ExitCode: 137, Message: "killed"}, file: file("bye", nil), want: "killed: bye"},
		{name: "unreadable file", path: path, policy: v1.TerminationMessageFallbackToLogsOnError, run: runtime.Container{ExitCode: 1}, file: file("", errors.New("EIO")), want: "Error on reading termination log: EIO"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ct := &v1.Container{TerminationMessagePath: c.path, TerminationMessagePolicy: c.policy}
			got := terminationMessage(ct, c.run, messageSource{file: c.file, logTail: tail})
			if got != c.want {
				t.Errorf("message %q, want %q", got, c.want)
			}
		})
	}
}

func TestReadLastAndLogTail(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "termination-log")
	os.WriteFile(p, []byte(strings.Repeat("a", 5000)+"END"), 0o666)
	b, err := readLast(p, maxMessageBytes)
	if err != nil || len(b) != maxMessageBytes || !strings.HasSuffix(string(b), "END") {
		t.Errorf("readLast: %d bytes ending %q, %v; want the last 4096", len(b), b[max(0, len(b)-3):], err)
	}
	if _, err := readLast(filepath.Join(dir, "none"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
	lp := filepath.Join(dir, "0.log")
	lw, err := logs.Create(lp)
	if err != nil {
		t.Fatal(err)
	}
	out := lw.Stream("stdout")
	for i := range 100 {
		out.Write([]byte(strings.Repeat("x", 30) + string(rune('0'+i%10)) + "\n"))
	}
	lw.Close()
	got, err := logTail(context.Background(), lp)
	if err != nil || len(got) != maxMessageLogBytes || !strings.HasSuffix(got, "9\n") {
		t.Errorf("logTail: %d bytes ending %q, %v; want the last 2048 bytes of the last 80 lines", len(got), got[max(0, len(got)-2):], err)
	}
}
