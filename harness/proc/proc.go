package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ID names one process for its whole life: its PID and its start time in clock
// ticks since boot (field 22 of /proc/PID/stat).
type ID struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
}

// ProcRoot is where /proc is; tests point it elsewhere.
var ProcRoot = "/proc"

// Self identifies the calling process.
func Self() (ID, error) { return Identify(os.Getpid()) }

// Identify reads the start time of pid.
func Identify(pid int) (ID, error) {
	st, _, err := readStat(pid)
	if err != nil {
		return ID{}, err
	}
	return ID{PID: pid, StartTime: st}, nil
}

// readStat returns the start time and the one-letter state of pid.
func readStat(pid int) (uint64, byte, error) {
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/stat", ProcRoot, pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	return parseStat(b)
}

// parseStat reads fields after the command name, which is in parentheses and may
// itself hold spaces and parentheses.
func parseStat(b []byte) (uint64, byte, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, 0, fmt.Errorf("malformed stat line %q", b)
	}
	fields := bytes.Fields(b[i+2:])
	// fields[0] is field 3 (state); start time is field 22.
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("stat line has %d fields after the name, want at least 20", len(fields))
	}
	st, err := strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("parse start time %q: %w", fields[19], err)
	}
	return st, fields[0][0], nil
}

// Alive reports whether the process is still the one identified and has not exited
// (a zombie counts as gone).
func (id ID) Alive() bool {
	if id.PID <= 0 {
		return false
	}
	st, state, err := readStat(id.PID)
	return err == nil && st == id.StartTime && state != 'Z' && state != 'X'
}

// ErrGone means the process identified no longer exists.
var ErrGone = errors.New("process is gone")

// Signal sends sig if, and only if, the process is still the one identified.
func (id ID) Signal(sig syscall.Signal) error {
	if !id.Alive() {
		return ErrGone
	}
	if err := syscall.Kill(id.PID, sig); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return ErrGone
		}
		return fmt.Errorf("signal %v to pid %d: %w", sig, id.PID, err)
	}
	return nil
}

// Stop sends SIGTERM, waits up to grace for the process to go, then sends SIGKILL
// and waits again. A process already gone is success.
func Stop(ctx context.Context, id ID, grace time.Duration) error {
	if err := id.Signal(syscall.SIGTERM); errors.Is(err, ErrGone) {
		return nil
	} else if err != nil {
		return err
	}
	if WaitGone(ctx, id, grace) {
		return nil
	}
	return Kill(ctx, id)
}

// Kill sends SIGKILL and waits for the process to go.
func Kill(ctx context.Context, id ID) error {
	if err := id.Signal(syscall.SIGKILL); errors.Is(err, ErrGone) {
		return nil
	} else if err != nil {
		return err
	}
	if !WaitGone(ctx, id, 10*time.Second) {
		return fmt.Errorf("pid %d still alive 10s after SIGKILL", id.PID)
	}
	return nil
}

// WaitGone polls, with growing pauses, until the process is gone or d has passed.
func WaitGone(ctx context.Context, id ID, d time.Duration) bool {
	deadline := time.Now().Add(d)
	pause := time.Millisecond
	for id.Alive() {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return !id.Alive()
		case <-time.After(pause):
		}
		pause = min(pause*2, 100*time.Millisecond)
	}
	return true
}

// LogTail is the last n lines of a process's log file, joined by " | ", for
// an error message that says why the process did not come up.
func LogTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
