package logs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 600000000, time.UTC)

const ts0 = "2026-01-02T03:04:05.6Z"

func newTestWriter(t *testing.T) (*Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pods", "ns_pod_uid", "c", "0.log")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w.now = func() time.Time { return t0.In(time.FixedZone("X", 3600)) } // Stream must stamp UTC
	t.Cleanup(func() { w.Close() })
	return w, path
}

func TestStreamRecords(t *testing.T) {
	long := strings.Repeat("x", MaxRecordSize)
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"one line", []string{"hello\n"}, "S F hello\n"},
		{"two lines in one write", []string{"a\nb\n"}, "S F a\nS F b\n"},
		{"empty line", []string{"\n"}, "S F \n"},
		{"unterminated tail is partial", []string{"a\nbc"}, "S F a\nS P bc\n"},
		{"line in two writes", []string{"ab", "c\n"}, "S P ab\nS F c\n"},
		{"line of max size", []string{long + "\n"}, "S F " + long + "\n"},
		{"long line cut", []string{long + "yz\n"}, "S P " + long + "\nS F yz\n"},
		{"long unterminated", []string{long + "y"}, "S P " + long + "\nS P y\n"},
		{"empty write", []string{""}, ""},
		{"spaces kept", []string{" a  b \n"}, "S F  a  b \n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, path := newTestWriter(t)
			s := w.Stream("stdout")
			for _, in := range tt.writes {
				n, err := s.Write([]byte(in))
				if err != nil || n != len(in) {
					t.Fatalf("Write(%q) = %d, %v", in, n, err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.ReplaceAll(tt.want, "S ", ts0+" stdout ")
			if string(got) != want {
				t.Errorf("file:\n%q\nwant:\n%q", got, want)
			}
		})
	}
}

func TestStreamsConcurrent(t *testing.T) {
	w, path := newTestWriter(t)
	const lines = 500
	var wg sync.WaitGroup
	for _, name := range []string{"stdout", "stderr"} {
		wg.Go(func() {
			s := w.Stream(name)
			for i := range lines {
				fmt.Fprintf(s, "%s line %d with some padding to make writes longer\n", name, i)
			}
		})
	}
	wg.Wait()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	next := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		rec, ok := parseRecord([]byte(line))
		if !ok || rec.partial {
			t.Fatalf("bad record %q", line)
		}
		stream := string(rec.stream)
		want := fmt.Sprintf("%s line %d with some padding to make writes longer", stream, next[stream])
		if string(rec.content) != want {
			t.Fatalf("record %q, want content %q", line, want)
		}
		next[stream]++
	}
	if next["stdout"] != lines || next["stderr"] != lines {
		t.Errorf("lines per stream = %v, want %d each", next, lines)
	}
}

func TestCloseMarksComplete(t *testing.T) {
	w, path := newTestWriter(t)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := w.Stream("stdout").Write([]byte("late\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close = %v, want os.ErrClosed", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o200 != 0 {
		t.Errorf("mode after Close = %v, want no owner write bit", fi.Mode())
	}

	// Creating again (a restarted kubelet) appends and makes the file live.
	w2, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	w2.Stream("stderr").Write([]byte("more\n"))
	fi, _ = os.Stat(path)
	if fi.Mode().Perm() != liveMode {
		t.Errorf("mode after re-Create = %v, want %v", fi.Mode().Perm(), os.FileMode(liveMode))
	}
	data, _ := os.ReadFile(path)
	if !bytes.HasSuffix(data, []byte(" stderr F more\n")) {
		t.Errorf("file after re-Create = %q", data)
	}
}
