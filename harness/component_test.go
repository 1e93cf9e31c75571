package harness

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A kind with a binary of its own runs from it when it sits, executable,
// beside the lab binary; otherwise the lab binary runs it, and the lab says
// so once.
func TestBinaryForPrefersTheKindsOwnBinary(t *testing.T) {
	dir := t.TempDir()
	lab := filepath.Join(dir, "lab")
	write := func(name string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("lab", 0o755)
	write("lab-kubelet", 0o755)
	write("lab-proxy", 0o644) // not executable: not used
	var logged bytes.Buffer
	l := &Lab{cfg: Config{LabBinary: lab}, log: slog.New(slog.NewTextHandler(&logged, nil))}

	for _, tc := range []struct {
		c    component
		want string
	}{
		{component{name: "etcd-1"}, lab},
		{component{name: "kubelet/node-1", binary: "lab-kubelet"}, filepath.Join(dir, "lab-kubelet")},
		{component{name: "proxy/node-1", binary: "lab-proxy"}, lab},
		{component{name: "proxy/node-2", binary: "lab-proxy"}, lab},
		{component{name: "dns", binary: "lab-dns"}, lab},
	} {
		got, err := l.binaryFor(tc.c)
		if err != nil || got != tc.want {
			t.Errorf("binaryFor(%s) = %q, %v; want %q", tc.c.name, got, err, tc.want)
		}
	}
	if n := strings.Count(logged.String(), "no lab-proxy beside"); n != 1 {
		t.Errorf("the missing lab-proxy was said %d times, want once:\n%s", n, logged.String())
	}
	if !strings.Contains(logged.String(), "no lab-dns beside") {
		t.Errorf("the missing lab-dns was not said:\n%s", logged.String())
	}
}

// Every binary the component table names is built by make build.
func TestMakeBuildsEveryKindsBinary(t *testing.T) {
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		if k.binary != "" && !strings.Contains(string(mk), "$(BIN)/"+k.binary+" ./cmd/"+k.binary) {
			t.Errorf("make build does not build %s (./cmd/%s) for the %s kind", k.binary, k.binary, k.name)
		}
	}
}
