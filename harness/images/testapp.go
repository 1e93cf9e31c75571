package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// TestAppEnv names the environment variable that points at a testapp binary;
// when set, it wins over the binary next to the running executable.
const TestAppEnv = "KINNS_TESTAPP"

// FindTestApp returns the testapp binary that `make build` put next to the
// running executable (_output/bin/testapp beside _output/bin/lab), or the one
// $KINNS_TESTAPP names.
func FindTestApp() (string, error) {
	return findTestApp(os.Getenv, os.Executable)
}

func findTestApp(getenv func(string) string, executable func() (string, error)) (string, error) {
	if p := getenv(TestAppEnv); p != "" {
		if err := isExecutable(p); err != nil {
			return "", fmt.Errorf("$%s names no usable testapp binary: %w", TestAppEnv, err)
		}
		return p, nil
	}
	exe, err := executable()
	if err != nil {
		return "", fmt.Errorf("find the running executable: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	p := filepath.Join(filepath.Dir(exe), "testapp")
	if err := isExecutable(p); err != nil {
		return "", fmt.Errorf("no testapp binary next to %s: run `make build`, or set $%s: %w", exe, TestAppEnv, err)
	}
	return p, nil
}

func isExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// BuildTestApp compiles cmd/testapp of the kinns checkout at repoRoot into a
// static binary at outPath. The binary appears whole or not at all, so
// concurrent builders of the same path are safe.
func BuildTestApp(ctx context.Context, repoRoot, outPath string) error {
	goBin, err := findGo()
	if err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.tmp-%d", outPath, os.Getpid())
	defer os.Remove(tmp)
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, "./cmd/testapp")
	cmd.Dir = repoRoot
	// Static: the image holds this one file and no C library.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build testapp in %s (%s): %w: %s", repoRoot, cmd.String(), err, bytes.TrimSpace(out.Bytes()))
	}
	if err := os.Rename(tmp, outPath); err != nil {
		return fmt.Errorf("install testapp at %s: %w", outPath, err)
	}
	return nil
}

// findGo prefers go in PATH, then the usual install place.
func findGo() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	const fallback = "/usr/local/go/bin/go"
	if isExecutable(fallback) == nil {
		return fallback, nil
	}
	return "", errors.New("no go toolchain in PATH or /usr/local/go/bin, needed to build testapp")
}
