package containerd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kinns/kinns/kubelet/runtime"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
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

// running is a Containerd that watches one run, id "c", with con; done ends it.
func running(con *console) (*Containerd, chan struct{}) {
	done := make(chan struct{})
	return &Containerd{watches: map[string]*watch{"c": {console: con, done: done}}}, done
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// What a run writes goes to its log and to each attached session, each
// stream to its own; a session whose writes fail is dropped and ends.
func TestAttachFansOutputOut(t *testing.T) {
	con, stdin := newConsole(runtime.Spec{})
	if stdin != nil {
		t.Fatal("a run without stdin got one")
	}
	var logOut, logErr bytes.Buffer
	stdout, stderr := con.stream("stdout", &logOut), con.stream("stderr", &logErr)
	c, done := running(con)
	var out, errOut syncBuffer
	ended := make(chan error, 1)
	go func() { ended <- c.Attach(context.Background(), "c", runtime.Attach{Stdout: &out, Stderr: &errOut}) }()
	eventually(t, "the session to join", func() bool { con.mu.Lock(); defer con.mu.Unlock(); return len(con.clients) == 1 })
	io.WriteString(stdout, "out\n")
	io.WriteString(stderr, "err\n")
	if out.String() != "out\n" || errOut.String() != "err\n" || logOut.String() != "out\n" || logErr.String() != "err\n" {
		t.Errorf("session got %q %q, log %q %q", out.String(), errOut.String(), logOut.String(), logErr.String())
	}
	close(done)
	if err := <-ended; err != nil {
		t.Errorf("attach ended with %v at the run's end", err)
	}

	broken := &attached{stdout: failingWriter{}, gone: make(chan struct{})}
	con.add(broken)
	io.WriteString(stdout, "more\n")
	select {
	case <-broken.gone:
	default:
		t.Error("a session whose write failed was not told to leave")
	}
	if logOut.String() != "out\nmore\n" {
		t.Errorf("log %q after a broken session", logOut.String())
	}

	if err := c.Attach(context.Background(), "nope", runtime.Attach{}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("attach to an unknown run: %v, want ErrNotFound", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// A session's stdin reaches the run's stdin. With stdinOnce and no TTY, the
// run's stdin is closed when the first session's ends, and the session goes
// on to the run's end; otherwise the session ends with its stdin, and the
// run's stdin stays open for the next one (containerd's CRI plugin does so).
func TestAttachStdin(t *testing.T) {
	for _, tc := range []struct {
		name            string
		once, tty       bool
		closed, endsNow bool
	}{
		{name: "stdin", endsNow: true},
		{name: "stdinOnce", once: true, closed: true},
		{name: "stdinOnce with a tty", once: true, tty: true, endsNow: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			con, runStdin := newConsole(runtime.Spec{Stdin: true, StdinOnce: tc.once, TTY: tc.tty})
			c, done := running(con)
			var got syncBuffer
			readDone := make(chan struct{})
			go func() { io.Copy(&got, runStdin); close(readDone) }()
			ended := make(chan struct{})
			go func() {
				c.Attach(context.Background(), "c", runtime.Attach{Stdin: strings.NewReader("typed\n"), Stdout: io.Discard})
				close(ended)
			}()
			eventually(t, "the input to reach the run", func() bool { return got.String() == "typed\n" })
			if tc.closed {
				eventually(t, "the run's stdin to close", func() bool {
					select {
					case <-readDone:
						return true
					default:
						return false
					}
				})
			}
			if tc.endsNow {
				eventually(t, "the session to end with its stdin", func() bool {
					select {
					case <-ended:
						return true
					default:
						return false
					}
				})
			} else {
				select {
				case <-ended:
					t.Fatal("a stdinOnce session without a tty ended with its input, before the run")
				case <-time.After(50 * time.Millisecond):
				}
			}
			select {
			case <-readDone:
				if !tc.closed {
					t.Error("the run's stdin closed after a session without stdinOnce")
				}
			default:
			}
			close(done)
			<-ended
			con.closeStdin()
			<-readDone
		})
	}
}
