package containerd

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/kinns/kinns/kubelet/runtime"
)

// console is what attach sessions reach of a run: its output, written to
// its log and to every attached client, and the write end of its stdin
// for a container with stdin: true. The kubelet holds the stdin pipe, so a
// restarted kubelet, which adopts the run, has its output but no stdin.
type console struct {
	tty, stdinOnce bool

	mu      sync.Mutex
	stdin   *io.PipeWriter // nil: none, or closed
	clients map[*attached]struct{}
	// closeIO has the shim close the task's stdin; set once the task
	// exists. Closing the pipe is not enough: the shim keeps its own
	// writer on the stdin FIFO, so the process would never see its end.
	closeIO func()
}

// attached is one session's writers.
type attached struct {
	stdout, stderr io.Writer
	gone           chan struct{} // closed when a write to it failed
	once           sync.Once
}

func (a *attached) leave() { a.once.Do(func() { close(a.gone) }) }

// newConsole makes a run's console; with stdin, it returns the reader to
// hand the task as its stdin.
func newConsole(s runtime.Spec) (*console, io.Reader) {
	c := &console{tty: s.TTY, stdinOnce: s.StdinOnce, clients: map[*attached]struct{}{}}
	if !s.Stdin {
		return c, nil
	}
	r, w := io.Pipe()
	c.stdin = w
	// cio copies the pipe to the stdin FIFO and reads the pipe's end only
	// once all before it is written there: the shim may close it then.
	return c, readerFunc(func(p []byte) (int, error) {
		n, err := r.Read(p)
		if err == io.EOF {
			c.mu.Lock()
			closeIO := c.closeIO
			c.mu.Unlock()
			if closeIO != nil {
				closeIO()
			}
		}
		return n, err
	})
}

// setCloseIO records how the task's stdin is closed at the shim.
func (c *console) setCloseIO(f func()) {
	c.mu.Lock()
	c.closeIO = f
	c.mu.Unlock()
}

// stream is the writer of the run's stream name ("stdout", "stderr"): to
// the log, then to each client. A client that cannot take it (gone, or its
// connection broken) is dropped; the log and the others go on. A client
// that reads slowly slows the run's output, as a terminal does.
func (c *console) stream(name string, log io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		n, err := log.Write(p)
		c.mu.Lock()
		clients := make([]*attached, 0, len(c.clients))
		for a := range c.clients {
			clients = append(clients, a)
		}
		c.mu.Unlock()
		for _, a := range clients {
			w := a.stdout
			if name == "stderr" {
				w = a.stderr
			}
			if w == nil {
				continue
			}
			if _, werr := w.Write(p); werr != nil {
				c.remove(a)
				a.leave()
			}
		}
		return n, err
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (c *console) add(a *attached) {
	c.mu.Lock()
	c.clients[a] = struct{}{}
	c.mu.Unlock()
}

func (c *console) remove(a *attached) {
	c.mu.Lock()
	delete(c.clients, a)
	c.mu.Unlock()
}

// writeStdin copies in to the run's stdin until in ends; then, with
// closeAfter, it closes the run's stdin. It reports whether the run has a
// stdin open to write to.
func (c *console) writeStdin(in io.Reader, closeAfter bool) bool {
	c.mu.Lock()
	w := c.stdin
	c.mu.Unlock()
	if w == nil {
		return false
	}
	go func() {
		io.Copy(w, in) // ends with the client's stdin, or the run's end (closed pipe)
		if closeAfter {
			c.closeStdin()
		}
	}()
	return true
}

// runEnded lets go of the stdin of a run that is over (nil: no console):
// the shim has nothing left to close.
func (c *console) runEnded() {
	if c == nil {
		return
	}
	c.setCloseIO(nil)
	c.closeStdin()
}

// closeStdin gives the run's stdin its end of file, for good.
func (c *console) closeStdin() {
	c.mu.Lock()
	w := c.stdin
	c.stdin = nil
	c.mu.Unlock()
	if w != nil {
		w.Close()
	}
}

// Attach streams the running run id's output to a, and a.Stdin to its stdin,
// until the run ends, ctx ends, a's connection breaks, or a's stdin ends
// (the client detached). As containerd's CRI plugin: the end of a session's
// stdin closes the run's stdin only for a stdinOnce run without a TTY, and
// that session goes on to the run's end, so that the client sees what the
// run wrote after its end of input (`echo x | kubectl run -i`); with a TTY
// the run keeps its stdin, to be attached again (kubectl#52686).
func (c *Containerd) Attach(ctx context.Context, id string, a runtime.Attach) error {
	c.mu.Lock()
	w := c.watches[id]
	c.mu.Unlock()
	if w == nil || w.console == nil {
		return fmt.Errorf("attach to %s: no running task: %w", id, runtime.ErrNotFound)
	}
	con := w.console
	client := &attached{stdout: a.Stdout, stderr: a.Stderr, gone: make(chan struct{})}
	if con.tty {
		client.stderr = nil // a terminal's output is stdout alone
	}
	con.add(client)
	defer con.remove(client)
	if a.Resize != nil && con.tty {
		go func() {
			for sz := range a.Resize {
				w.task.Resize(c.nsCtx(ctx), uint32(sz.Width), uint32(sz.Height))
			}
		}()
	}
	stdinEnded := make(chan struct{})
	if a.Stdin != nil {
		in, closeAfter := a.Stdin, con.stdinOnce && !con.tty
		if !closeAfter {
			in = notifyEOF(in, stdinEnded)
		}
		if !con.writeStdin(in, closeAfter) {
			go func() { io.Copy(io.Discard, in) }() // no stdin to give it to: watch for the end
		}
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		return ctx.Err()
	case <-client.gone:
	case <-stdinEnded:
	}
	return nil
}

// notifyEOF is r, closing ended once r has ended.
func notifyEOF(r io.Reader, ended chan struct{}) io.Reader {
	var once sync.Once
	return readerFunc(func(p []byte) (int, error) {
		n, err := r.Read(p)
		if err != nil {
			once.Do(func() { close(ended) })
		}
		return n, err
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
