package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kinns/kinns/harness/proc"
	"github.com/kinns/kinns/harness/state"
)

// component is one process of the lab: an etcd member, an API server, a kubelet…
// It runs the lab binary's internal `component` subcommand (or its kind's own
// binary's) inside its host's namespace, so every thread and socket it ever
// has lives there.
type component struct {
	name   string // "etcd-2", "apiserver", "kubelet/node-1"
	host   string // the host it runs in
	binary string // its kind's own binary, preferred to the lab's; see binaryFor
	args   []string
	files  []*os.File // passed on as fd 3, 4, …
	// spawnFiles, if set, opens files passed on after files at each
	// start (restarts too); they are closed once the process has them.
	spawnFiles func() ([]*os.File, error)
	// readyPipe: the component says "ready" on a pipe it is handed (--ready-fd).
	readyPipe bool
	// ready, if set, waits until the component serves; it must respect ctx.
	ready func(ctx context.Context) error
}

// running is a started component.
type running struct {
	component
	id   proc.ID
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done
}

// components is the set the lab supervises, by name.
type components struct {
	mu  sync.Mutex
	all map[string]*running
}

// LogPath is where a component's output goes.
func (l *Lab) LogPath(name string) string {
	return filepath.Join(l.store.Dir(), "logs", strings.ReplaceAll(name, "/", "_")+".log")
}

func (l *Lab) labBinary() (string, error) {
	if l.cfg.LabBinary != "" {
		return l.cfg.LabBinary, nil
	}
	if b := os.Getenv("KINNS_LAB_BINARY"); b != "" {
		return b, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the lab binary: %w", err)
	}
	// Only the lab binary has the `component` subcommand; anything else (a test,
	// a benchmark) re-executed with those arguments would run itself again.
	if filepath.Base(self) != "lab" {
		return "", errors.New("this program cannot run lab components: set Config.LabBinary or $KINNS_LAB_BINARY to a `lab` binary (make build puts one in _output/bin)")
	}
	return self, nil
}

// binaryFor is the executable that runs c: its kind's own binary beside the
// lab binary (lab-kubelet beside _output/bin/lab), or the lab binary, which
// runs every kind, when there is none (a lab built with `go build ./cmd/lab`
// alone). The lab binary links the whole control plane, and every process
// maps what its binary's start-up touches: a node's kubelet and proxy run
// from their own binaries use about half the memory.
func (l *Lab) binaryFor(c component) (string, error) {
	lab, err := l.labBinary()
	if err != nil || c.binary == "" {
		return lab, err
	}
	own := filepath.Join(filepath.Dir(lab), c.binary)
	if st, err := os.Stat(own); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
		return own, nil
	}
	if _, said := l.lacking.LoadOrStore(c.binary, true); !said {
		l.log.Info("no "+c.binary+" beside the lab binary: the lab binary runs its components, with more memory each (make build makes both)",
			"lab", lab, "wanted", own)
	}
	return lab, nil
}

// start launches c in its host and waits until it is ready. A component that
// exits or does not become ready in time is an error that quotes its log.
func (l *Lab) start(ctx context.Context, c component, timeout time.Duration) error {
	r, readyR, err := l.spawn(ctx, c)
	if err != nil {
		return err
	}
	wait := c.ready
	if readyR != nil {
		defer readyR.Close()
		wait = func(ctx context.Context) error { return readReady(ctx, readyR) }
	}
	if wait == nil {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	readyErr := make(chan error, 1)
	go func() { readyErr <- wait(rctx) }()
	select {
	case err = <-readyErr:
	case <-r.done:
		err = fmt.Errorf("exited: %v", r.err)
	}
	if err != nil {
		return fmt.Errorf("%s on %s did not become ready: %w; last lines of %s: %s", c.name, c.host, err, l.LogPath(c.name), tailFile(l.LogPath(c.name), 8))
	}
	l.log.Info("component ready", "component", c.name, "host", c.host)
	return nil
}

// spawn starts c's process and records it. With c.readyPipe it also returns the
// read end of the component's ready pipe.
func (l *Lab) spawn(ctx context.Context, c component) (*running, *os.File, error) {
	bin, err := l.binaryFor(c)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(filepath.Dir(l.LogPath(c.name)), 0o755); err != nil {
		return nil, nil, err
	}
	logf, err := os.OpenFile(l.LogPath(c.name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open log of %s: %w", c.name, err)
	}
	defer logf.Close()
	args := append([]string{"component"}, c.args...)
	// Its host's name, in a UTS namespace of its own (Cloneflags below).
	args = append(args, "--hostname", c.host)
	files := append([]*os.File(nil), c.files...)
	if c.spawnFiles != nil {
		more, err := c.spawnFiles()
		if err != nil {
			return nil, nil, fmt.Errorf("start %s on %s: %w", c.name, c.host, err)
		}
		defer closeAll(more)
		files = append(files, more...)
	}
	var readyR *os.File
	if c.readyPipe {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, nil, err
		}
		defer w.Close()
		readyR = r
		files = append(files, w)
		args = append(args, "--ready-fd", strconv.Itoa(2+len(files)))
	}
	fail := func(err error) (*running, *os.File, error) {
		if readyR != nil {
			readyR.Close()
		}
		return nil, nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = files
	// Its own process group: a signal meant for the supervisor's group (Ctrl-C in
	// a terminal running specs) does not reach it; the lab stops it.
	// A UTS namespace of its own, where it takes its host's name: lab hosts
	// share the machine's, and upstream names things after the host name.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Cloneflags: syscall.CLONE_NEWUTS}
	if err := l.Start(ctx, c.host, cmd); err != nil {
		return fail(fmt.Errorf("start %s on %s: %w", c.name, c.host, err))
	}
	id, err := proc.Identify(cmd.Process.Pid)
	if err == nil {
		err = l.store.Record(state.Resource{Kind: state.KindProcess, Name: c.name, Process: id})
	}
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return fail(err)
	}
	r := &running{component: c, id: id, done: make(chan struct{})}
	go func() {
		r.err = cmd.Wait()
		close(r.done)
	}()
	l.procs.mu.Lock()
	if l.procs.all == nil {
		l.procs.all = map[string]*running{}
	}
	l.procs.all[c.name] = r
	l.procs.mu.Unlock()
	return r, readyR, nil
}

// component finds a running component by name.
func (l *Lab) component(name string) (*running, error) {
	l.procs.mu.Lock()
	defer l.procs.mu.Unlock()
	r, ok := l.procs.all[name]
	if !ok {
		return nil, fmt.Errorf("lab %s has no component %q", l.Name(), name)
	}
	return r, nil
}

// stop ends a component: SIGTERM then SIGKILL after grace (grace 0: SIGKILL at
// once, like a power cut). It stays known, so it can be started again.
func (l *Lab) stop(ctx context.Context, name string, grace time.Duration) error {
	r, err := l.component(name)
	if err != nil {
		return err
	}
	if grace == 0 {
		err = proc.Kill(ctx, r.id)
	} else {
		err = proc.Stop(ctx, r.id, grace)
	}
	if err != nil {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// restart starts a stopped component again with the same arguments.
func (l *Lab) restart(ctx context.Context, name string, timeout time.Duration) error {
	r, err := l.component(name)
	if err != nil {
		return err
	}
	select {
	case <-r.done:
	default:
		return fmt.Errorf("%s is still running (pid %d)", name, r.id.PID)
	}
	return l.start(ctx, r.component, timeout)
}

// signal sends sig to a running component (SIGSTOP freezes it, SIGCONT thaws it).
func (l *Lab) signal(name string, sig syscall.Signal) error {
	r, err := l.component(name)
	if err != nil {
		return err
	}
	return r.id.Signal(sig)
}

// alive reports whether a component's process is running.
func (l *Lab) alive(name string) bool {
	r, err := l.component(name)
	if err != nil {
		return false
	}
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	return strings.ReplaceAll(strings.TrimRight(string(LastLines(b, n)), "\n"), "\n", " | ")
}
