package logs

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// sample holds records one second apart; "t<N>" in want strings stands for
// the timestamp of second N.
const sample = `2026-01-02T03:04:01Z stdout F one
2026-01-02T03:04:02Z stderr F two
2026-01-02T03:04:03Z stdout P thr
2026-01-02T03:04:04Z stdout F ee
2026-01-02T03:04:05Z stdout F
2026-01-02T03:04:06.5Z stderr F:x six
`

func stamp(n string) string { return "2026-01-02T03:04:0" + n + "Z" }

func ptr[T any](v T) *T { return &v }

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte(content), 0o440); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		content string
		opts    Options
		want    string
	}{
		{"all", sample, Options{}, "one\ntwo\nthree\n\nsix\n"},
		{"timestamps", sample, Options{Timestamps: true},
			stamp("1") + " one\n" + stamp("2") + " two\n" + stamp("3") + " three\n" + stamp("5") + " \n" + "2026-01-02T03:04:06.5Z six\n"},
		{"tail 0", sample, Options{TailLines: ptr[int64](0)}, ""},
		{"tail 1", sample, Options{TailLines: ptr[int64](1)}, "six\n"},
		{"tail 3 joins the partial line", sample, Options{TailLines: ptr[int64](3)}, "three\n\nsix\n"},
		{"tail more than lines", sample, Options{TailLines: ptr[int64](50)}, "one\ntwo\nthree\n\nsix\n"},
		{"tail negative is all", sample, Options{TailLines: ptr[int64](-1)}, "one\ntwo\nthree\n\nsix\n"},
		{"tail counts the selected stream", sample, Options{TailLines: ptr[int64](2), Stream: "stderr"}, "two\nsix\n"},
		{"tail with trailing partial", "2026-01-02T03:04:01Z stdout F a\n2026-01-02T03:04:02Z stdout F b\n2026-01-02T03:04:03Z stdout P c\n",
			Options{TailLines: ptr[int64](1)}, "c"},
		{"since", sample, Options{SinceTime: ptr(time.Date(2026, 1, 2, 3, 4, 4, 0, time.UTC))}, "ee\n\nsix\n"},
		{"since and tail", sample, Options{SinceTime: ptr(time.Date(2026, 1, 2, 3, 4, 2, 0, time.UTC)), TailLines: ptr[int64](4)}, "two\nthree\n\nsix\n"},
		{"limit bytes", sample, Options{LimitBytes: ptr[int64](6)}, "one\ntw"},
		{"limit bytes on a line end", sample, Options{LimitBytes: ptr[int64](4)}, "one\n"},
		{"limit bytes with timestamps", sample, Options{LimitBytes: ptr[int64](24), Timestamps: true}, stamp("1") + " one"},
		{"limit zero", sample, Options{LimitBytes: ptr[int64](0)}, ""},
		{"stdout only", sample, Options{Stream: "stdout"}, "one\nthree\n\n"},
		{"stderr only", sample, Options{Stream: "stderr"}, "two\nsix\n"},
		{"partial lines per stream, timestamps once", "2026-01-02T03:04:01Z stdout P a\n2026-01-02T03:04:02Z stderr F e\n2026-01-02T03:04:03Z stdout F b\n",
			Options{Timestamps: true}, stamp("1") + " a" + stamp("2") + " e\nb\n"},
		{"malformed records skipped", "garbage\n2026-01-02T03:04:01Z stdout F ok\nno-stream\n", Options{}, "ok\n"},
		{"incomplete last record ignored", "2026-01-02T03:04:01Z stdout F ok\n2026-01-02T03:04:02Z stdout F hal", Options{}, "ok\n"},
		{"empty file", "", Options{TailLines: ptr[int64](10)}, ""},
		{"long record", "2026-01-02T03:04:01Z stdout F " + strings.Repeat("z", 100<<10) + "\n", Options{}, strings.Repeat("z", 100<<10) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.content)
			var out bytes.Buffer
			if err := Read(context.Background(), path, tt.opts, &out); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("Read =\n%q\nwant\n%q", out.String(), tt.want)
			}
		})
	}
}

func TestReadMissing(t *testing.T) {
	err := Read(context.Background(), filepath.Join(t.TempDir(), "nope.log"), Options{}, &bytes.Buffer{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read of a missing file = %v, want fs.ErrNotExist", err)
	}
}

// syncBuffer is a bytes.Buffer safe for a reader goroutine and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != want {
		if time.Now().After(deadline) {
			t.Fatalf("output %q, want %q", out.String(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFollow checks each way a follow ends, and that records written before
// the end are all delivered.
func TestFollow(t *testing.T) {
	tests := []struct {
		name string
		end  func(w *Writer, path string, done chan struct{}, cancel context.CancelFunc)
		want string // output after the end
	}{
		{"writer closed", func(w *Writer, _ string, _ chan struct{}, _ context.CancelFunc) {
			w.Stream("stdout").Write([]byte("last\n"))
			w.Close()
		}, "first\nsecond\nlast\n"},
		{"done closed", func(w *Writer, _ string, done chan struct{}, _ context.CancelFunc) {
			w.Stream("stdout").Write([]byte("last\n"))
			close(done)
		}, "first\nsecond\nlast\n"},
		{"file removed", func(w *Writer, path string, _ chan struct{}, _ context.CancelFunc) {
			w.Stream("stdout").Write([]byte("last\n"))
			os.Remove(path)
		}, "first\nsecond\nlast\n"},
		{"file replaced", func(w *Writer, path string, _ chan struct{}, _ context.CancelFunc) {
			w.Stream("stdout").Write([]byte("last\n"))
			os.Rename(path, path+".1")
			os.WriteFile(path, []byte("2026-01-02T03:04:01Z stdout F other\n"), 0o640)
		}, "first\nsecond\nlast\n"},
		{"context cancelled", func(_ *Writer, _ string, _ chan struct{}, cancel context.CancelFunc) {
			cancel()
		}, "first\nsecond\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, path := newTestWriter(t)
			w.Stream("stdout").Write([]byte("first\n"))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan struct{})
			out := &syncBuffer{}
			result := make(chan error, 1)
			go func() {
				result <- Read(ctx, path, Options{Follow: true, Done: done, PollInterval: 5 * time.Millisecond}, out)
			}()
			waitFor(t, out, "first\n")
			w.Stream("stdout").Write([]byte("sec"))
			w.Stream("stdout").Write([]byte("ond\n"))
			waitFor(t, out, "first\nsecond\n")
			tt.end(w, path, done, cancel)
			select {
			case err := <-result:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("follow did not end")
			}
			if out.String() != tt.want {
				t.Errorf("output %q, want %q", out.String(), tt.want)
			}
		})
	}
}

func TestFollowUnterminatedOutputShowsAtOnce(t *testing.T) {
	w, path := newTestWriter(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	go Read(ctx, path, Options{Follow: true, Timestamps: true, PollInterval: 5 * time.Millisecond}, out)
	w.Stream("stdout").Write([]byte("Password: "))
	waitFor(t, out, ts0+" Password: ")
	w.Stream("stdout").Write([]byte("ok\n"))
	waitFor(t, out, ts0+" Password: ok\n")
}

func TestFollowTail(t *testing.T) {
	w, path := newTestWriter(t)
	w.Stream("stdout").Write([]byte("a\nb\nc\n"))
	out := &syncBuffer{}
	result := make(chan error, 1)
	go func() {
		result <- Read(context.Background(), path, Options{Follow: true, TailLines: ptr[int64](1), PollInterval: 5 * time.Millisecond}, out)
	}()
	waitFor(t, out, "c\n")
	w.Stream("stderr").Write([]byte("d\n"))
	waitFor(t, out, "c\nd\n")
	w.Close()
	if err := <-result; err != nil {
		t.Fatal(err)
	}
}
