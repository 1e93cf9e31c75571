package harness

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// ErrAlreadyUp means a lab of that name is running.
var ErrAlreadyUp = errors.New("lab already up")

// ErrLeftovers means a lab of that name was not taken down cleanly.
var ErrLeftovers = errors.New("leftovers of an earlier lab")

// ErrPreflight means the machine lacks something a lab needs.
var ErrPreflight = errors.New("this machine cannot run a lab")

// RunError is a command that failed inside a lab host, with what it printed.
type RunError struct {
	Host   string
	Argv   []string
	Output []byte
	Err    error
}

func (e *RunError) Error() string {
	out := strings.TrimSpace(string(e.Output))
	if len(out) > 2000 {
		out = "…" + out[len(out)-2000:]
	}
	return fmt.Sprintf("run %q in %s: %v; output: %s", strings.Join(e.Argv, " "), e.Host, e.Err, out)
}

func (e *RunError) Unwrap() error { return e.Err }

// ExitCode is the command's exit status, or -1 if it did not exit normally.
func (e *RunError) ExitCode() int {
	var ee *exec.ExitError
	if errors.As(e.Err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
