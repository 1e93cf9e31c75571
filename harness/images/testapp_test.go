package images

import (
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce  sync.Once
	builtApp   string
	buildErr   error
	buildDir   string
	buildTaken time.Duration
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// realTestApp builds cmd/testapp once for the whole package run.
func realTestApp(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "kinns-images-test-"); buildErr != nil {
			return
		}
		builtApp = filepath.Join(buildDir, "testapp")
		start := time.Now()
		buildErr = BuildTestApp(context.Background(), "../..", builtApp)
		buildTaken = time.Since(start)
	})
	if buildErr != nil {
		t.Fatalf("build testapp: %v", buildErr)
	}
	return builtApp
}

func TestBuildTestAppIsStatic(t *testing.T) {
	bin := realTestApp(t)
	t.Logf("go build of testapp took %s", buildTaken.Round(time.Millisecond))
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("testapp has an ELF interpreter: it is not static")
		}
	}
	out, err := exec.Command(bin, "help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "testapp get") {
		t.Fatalf("testapp help: %v: %s", err, out)
	}
}

func TestBuildTestAppReportsCompileErrors(t *testing.T) {
	err := BuildTestApp(context.Background(), t.TempDir(), filepath.Join(t.TempDir(), "testapp"))
	if err == nil || !strings.Contains(err.Error(), "build testapp") {
		t.Fatalf("error %v, want one saying the build failed", err)
	}
}

func TestFindTestApp(t *testing.T) {
	binDir := t.TempDir()
	lab := filepath.Join(binDir, "lab")
	beside := filepath.Join(binDir, "testapp")
	other := filepath.Join(t.TempDir(), "testapp")
	for _, p := range []string{lab, beside, other} {
		os.WriteFile(p, []byte("x"), 0o755)
	}
	exe := func() (string, error) { return lab, nil }
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }

	if got, err := findTestApp(getenv, exe); err != nil || got != beside {
		t.Errorf("beside lab: %q, %v; want %q", got, err, beside)
	}
	env[TestAppEnv] = other
	if got, err := findTestApp(getenv, exe); err != nil || got != other {
		t.Errorf("with $%s: %q, %v; want %q", TestAppEnv, got, err, other)
	}
	env[TestAppEnv] = filepath.Join(binDir, "missing")
	if _, err := findTestApp(getenv, exe); err == nil || !strings.Contains(err.Error(), TestAppEnv) {
		t.Errorf("with $%s pointing nowhere: %v", TestAppEnv, err)
	}
	delete(env, TestAppEnv)
	os.Remove(beside)
	if _, err := findTestApp(getenv, exe); err == nil || !strings.Contains(err.Error(), "make build") {
		t.Errorf("nothing to find: %v, want advice to run make build", err)
	}
}
