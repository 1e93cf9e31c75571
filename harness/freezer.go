package harness

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The node faults act on a node's cgroup (its pods' parent) with the
// kernel's own tools: the freezer (v1: the freezer hierarchy's
// freezer.state; v2: cgroup.freeze) and, to kill, cgroup.kill on v2 or
// SIGKILL to every process listed on v1.

// freezerDir is rel's folder in the hierarchy that can freeze it, and
// whether that hierarchy is v2.
func freezerDir(rel string) (string, bool) {
	if _, err := os.Stat(filepath.Join(CgroupRoot, "cgroup.controllers")); err == nil {
		return filepath.Join(CgroupRoot, rel), true
	}
	return filepath.Join(CgroupRoot, "freezer", rel), false
}

// moveToCgroup puts pids in cgroup rel (made if missing) of the freezer's
// hierarchy.
func moveToCgroup(rel string, pids []int) error {
	dir, _ := freezerDir(rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("make cgroup %s: %w", dir, err)
	}
	for _, pid := range pids {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("move pid %d into %s: %w", pid, dir, err)
		}
	}
	return nil
}

// freezeCgroup freezes rel and everything below it, and waits until the
// kernel says it is frozen.
func freezeCgroup(ctx context.Context, rel string) error {
	dir, v2 := freezerDir(rel)
	if v2 {
		return setAndWait(ctx, dir, "cgroup.freeze", "1", "cgroup.events", "frozen 1")
	}
	return setAndWait(ctx, dir, "freezer.state", "FROZEN", "freezer.state", "FROZEN")
}

// thawCgroup lets rel run on; a cgroup that does not exist is thawed.
func thawCgroup(ctx context.Context, rel string) error {
	dir, v2 := freezerDir(rel)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if v2 {
		return setAndWait(ctx, dir, "cgroup.freeze", "0", "cgroup.events", "frozen 0")
	}
	return setAndWait(ctx, dir, "freezer.state", "THAWED", "freezer.state", "THAWED")
}

// setAndWait writes value to file in dir, then polls until file "done"
// holds want (a line of it, for cgroup.events).
func setAndWait(ctx context.Context, dir, file, value, done, want string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644); err != nil {
		return fmt.Errorf("write %s to %s: %w", value, filepath.Join(dir, file), err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		b, err := os.ReadFile(filepath.Join(dir, done))
		if err == nil && hasLine(string(b), want) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not reach %q: %w", dir, want, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func hasLine(text, want string) bool {
	for line := range strings.Lines(text) {
		if strings.TrimSpace(line) == want {
			return true
		}
	}
	return false
}

// killCgroup kills every process in rel and below, and waits until none is
// left. These are the lab's own processes: its pods' containers.
func killCgroup(ctx context.Context, rel string) error {
	dir, v2 := freezerDir(rel)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if v2 {
		os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0o644) // kernels before 5.14 lack it
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		pids := cgroupPids(dir)
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("processes %v of %s did not die: %w", pids, dir, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// cgroupPids lists the processes in dir and its descendants.
func cgroupPids(dir string) []int {
	var pids []int
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}
