package pods

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/kinns/kinns/kubelet/runtime"
	"github.com/kinns/kinns/kubelet/server"
)

// ErrNotFound is wrapped by the Provider methods (LogPath, Exec,
// PortForward) when the pod, the container or the run asked for is not on
// this node; it is the kubelet server's sentinel, which answers 404.
var ErrNotFound = server.ErrNotFound

var _ server.Provider = (*Manager)(nil)

// LogPath returns the log file of a container's current run, or with
// previous of the run before it. The file may not exist yet (a run that is
// being created) or any more (an old run of a pod whose containers were
// lost with the node).
func (k *Manager) LogPath(namespace, pod, container string, previous bool) (string, error) {
	p, err := k.findPod(namespace, pod)
	if err != nil {
		return "", err
	}
	if findContainer(p, container) == nil {
		return "", fmt.Errorf("container %q in pod %s/%s: %w", container, namespace, pod, ErrNotFound)
	}
	cs, err := k.rt.List(context.Background(), string(p.UID))
	if err != nil {
		return "", err
	}
	list := groupRuns(cs)[container]
	attempt := -1
	switch {
	case len(list) > 0:
		attempt = list[0].Attempt
	case findStatus(p.Status, container) != nil:
		attempt = int(findStatus(p.Status, container).RestartCount)
	}
	if previous {
		attempt--
	}
	if attempt < 0 {
		what := "has not run yet"
		if previous {
			what = "has no previous run"
		}
		return "", fmt.Errorf("container %q in pod %s/%s %s: %w", container, namespace, pod, what, ErrNotFound)
	}
	return k.inputs.LogPath(podRefOf(p), container, attempt), nil
}

// Exec runs cmd in the container's current run. A non-zero exit is a
// server.ExitError.
func (k *Manager) Exec(ctx context.Context, namespace, pod, container string, cmd []string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	id, err := k.runningContainer(ctx, namespace, pod, container)
	if err != nil {
		return err
	}
	e := runtime.Exec{Cmd: cmd, Stdin: stdin, TTY: tty, Resize: resize}
	if stdout != nil {
		e.Stdout = stdout
	}
	if stderr != nil {
		e.Stderr = stderr
	}
	code, err := k.rt.Exec(ctx, id, e)
	if errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("container %q in pod %s/%s is not running: %w", container, namespace, pod, ErrNotFound)
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return server.ExitError{Code: code}
	}
	return nil
}

// Attach joins a session to the streams of the container's current run:
// its output from now on, and stdin into the run's stdin when the
// container has stdin: true (kubectl attach, kubectl run -it).
func (k *Manager) Attach(ctx context.Context, namespace, pod, container string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	id, err := k.runningContainer(ctx, namespace, pod, container)
	if err != nil {
		return err
	}
	a := runtime.Attach{Stdin: stdin, Resize: resize}
	if stdout != nil {
		a.Stdout = stdout
	}
	if stderr != nil {
		a.Stderr = stderr
	}
	err = k.rt.Attach(ctx, id, a)
	if errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("container %q in pod %s/%s is not running: %w", container, namespace, pod, ErrNotFound)
	}
	return err
}

// PortForward connects stream to port of the pod's address; the kubelet
// lives in the node's namespace, which routes to the pod bridge.
func (k *Manager) PortForward(ctx context.Context, namespace, pod string, port int32, stream io.ReadWriteCloser) error {
	p, err := k.findPod(namespace, pod)
	if err != nil {
		return err
	}
	ip := p.Status.PodIP
	if w := k.existingWorker(p); w != nil && w.sandboxIP() != "" {
		ip = w.sandboxIP()
	}
	if ip == "" {
		return fmt.Errorf("pod %s/%s has no address yet: %w", namespace, pod, ErrNotFound)
	}
	conn, err := k.dial(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(int(port))))
	if err != nil {
		return fmt.Errorf("connect to port %d of pod %s/%s: %w", port, namespace, pod, err)
	}
	defer conn.Close()
	return pipe(ctx, conn, stream)
}

// pipe copies both ways. The client's end of input is passed on as a
// half-close, so the pod can still answer; the pod closing its side, or ctx
// ending, ends both.
func pipe(ctx context.Context, conn net.Conn, stream io.ReadWriteCloser) error {
	var wg sync.WaitGroup
	wg.Go(func() {
		io.Copy(conn, stream)
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	})
	answered := make(chan struct{})
	wg.Go(func() {
		io.Copy(stream, conn)
		close(answered)
	})
	select {
	case <-answered:
	case <-ctx.Done():
	}
	conn.Close()
	stream.Close()
	wg.Wait()
	return nil
}

// runningContainer is the ID of the container's running run.
func (k *Manager) runningContainer(ctx context.Context, namespace, pod, container string) (string, error) {
	p, err := k.findPod(namespace, pod)
	if err != nil {
		return "", err
	}
	cs, err := k.rt.List(ctx, string(p.UID))
	if err != nil {
		return "", err
	}
	if last := groupRuns(cs).latest(container); last != nil && last.State == runtime.StateRunning {
		return last.ID, nil
	}
	return "", fmt.Errorf("container %q in pod %s/%s is not running: %w", container, namespace, pod, ErrNotFound)
}

func (k *Manager) findPod(namespace, name string) (*v1.Pod, error) {
	// The server starts beside the pod informer: until the lister is
	// published, no pod is known here.
	k.mu.Lock()
	pods := k.pods
	k.mu.Unlock()
	if pods == nil {
		return nil, fmt.Errorf("pod %s/%s: %w", namespace, name, ErrNotFound)
	}
	p, err := pods.Pods(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("pod %s/%s is not on node %s: %w", namespace, name, k.cfg.NodeName, ErrNotFound)
	}
	return p, err
}

func (k *Manager) existingWorker(p *v1.Pod) *podWorker {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.workers[p.UID]
}

// findContainer is the pod's container called name: an app, init or
// ephemeral one.
func findContainer(p *v1.Pod, name string) *v1.Container {
	if c := containerByName(p, name, false); c != nil {
		return c
	}
	if c := containerByName(p, name, true); c != nil {
		return c
	}
	return ephemeralByName(p, name)
}
