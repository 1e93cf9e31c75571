package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCatAndEnv(t *testing.T) {
	f := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(f, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"cat", f, f}, &out, &errOut); code != 0 || out.String() != "abcabc" {
		t.Errorf("cat: %d %q %q", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"cat", f + ".missing"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "no such file") {
		t.Errorf("cat of a missing file: %d %q", code, errOut.String())
	}
	t.Setenv("TESTAPP_SEEN", "yes")
	out.Reset()
	if code := run(context.Background(), []string{"env"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "TESTAPP_SEEN=yes\n") {
		t.Errorf("env: %d %q", code, out.String())
	}
}

func TestAllocRefusesBadInput(t *testing.T) {
	var out, errOut bytes.Buffer
	for _, args := range [][]string{{"alloc"}, {"alloc", "lots"}, {"alloc", "-1"}} {
		if code := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if code := run(ctx, []string{"alloc", "2"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "holding 2 MiB") {
		t.Errorf("alloc 2: %d %q", code, out.String())
	}
}

func TestFileModes(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"write", f, "hi"}, &out, &errOut); code != 0 {
		t.Fatalf("write: %d %q", code, errOut.String())
	}
	os.Chmod(dir, os.ModeSetgid|0o775)
	os.Chmod(f, 0o640)
	out.Reset()
	if code := run(context.Background(), []string{"stat", dir, f}, &out, &errOut); code != 0 {
		t.Fatalf("stat: %d %q", code, errOut.String())
	}
	want := fmt.Sprintf("%s drwxrwsr-x uid=%d gid=%d\n%s -rw-r----- uid=%d gid=%d\n", dir, os.Getuid(), os.Getgid(), f, os.Getuid(), os.Getgid())
	if out.String() != want {
		t.Errorf("stat:\n%s\nwant\n%s", out.String(), want)
	}
	if code := run(context.Background(), []string{"write", filepath.Join(dir, "no", "f"), "x"}, &out, &errOut); code != 1 {
		t.Errorf("write into a missing folder: %d", code)
	}
	out.Reset()
	if code := run(context.Background(), []string{"id"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), fmt.Sprintf("uid=%d gid=%d groups=", os.Getuid(), os.Getgid())) {
		t.Errorf("id: %d %q", code, out.String())
	}
}
