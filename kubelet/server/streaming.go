package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	upgradeproxy "k8s.io/apimachinery/pkg/util/proxy"
	streamproxy "k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/client-go/tools/remotecommand"
	cripf "k8s.io/cri-streaming/pkg/streaming/portforward"
	crirc "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/streaming/pkg/httpstream/wsstream"
	utilexec "k8s.io/utils/exec"
)

// What reaches a kubelet from kube-apiserver v1.37: the API server proxies
// exec and port-forward as they come when the Node declares the
// ExtendWebSocketsToKubelet feature in status.declaredFeatures (kubectl's
// websocket v5.channel.k8s.io exec, SPDY/3.1+portforward.k8s.io tunnels);
// otherwise it translates websockets into SPDY itself (v4.channel.k8s.io …
// channel.k8s.io exec, portforward.k8s.io) and the kubelet sees SPDY only.
// Older clients' SPDY is proxied unchanged either way. The server takes all
// of these: SPDY and the pre-v5 websocket protocols through the CRI streaming
// handlers (k8s.io/cri-streaming), and the two newer websocket forms the
// way the upstream kubelet does, through the API server's own translators
// (k8s.io/apiserver/pkg/util/proxy) dialling the SPDY handlers in-process.

const internalHost = "kubelet.loopback"

// exec answers /exec/{namespace}/{pod}[/{uid}]/{container}?command=…&input=1&output=1&error=1&tty=1.
func (s *server) exec(w http.ResponseWriter, r *http.Request) {
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		http.Error(w, "command is required", http.StatusBadRequest)
		return
	}
	s.remoteCommand(w, r, func(ex *executor, pod, uid, container string, opts *crirc.Options) {
		s.log.Debug("exec", "pod", ex.namespace+"/"+pod, "container", container, "command", cmd, "tty", opts.TTY)
		crirc.ServeExec(w, r, ex, pod, uid, container, cmd, opts, s.idle, crirc.DefaultStreamCreationTimeout, crirc.SupportedStreamingProtocols)
	})
}

// attach answers /attach/{namespace}/{pod}[/{uid}]/{container}?input=1&output=1&error=1&tty=1.
func (s *server) attach(w http.ResponseWriter, r *http.Request) {
	s.remoteCommand(w, r, func(ex *executor, pod, uid, container string, opts *crirc.Options) {
		s.log.Debug("attach", "pod", ex.namespace+"/"+pod, "container", container, "tty", opts.TTY)
		crirc.ServeAttach(w, r, ex, pod, uid, container, opts, s.idle, crirc.DefaultStreamCreationTimeout, crirc.SupportedStreamingProtocols)
	})
}

// remoteCommand is what exec and attach share: their stream options, a 404
// for an unknown pod or container before any upgrade, and the newer
// websocket forms translated to SPDY; serveSPDY serves the rest.
func (s *server) remoteCommand(w http.ResponseWriter, r *http.Request, serveSPDY func(ex *executor, pod, uid, container string, opts *crirc.Options)) {
	ns, pod, container := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	opts, err := crirc.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if _, err := s.p.LogPath(ns, pod, container, false); errors.Is(err, ErrNotFound) {
		httpError(w, fmt.Errorf("container %q in pod %s/%s: %w", container, ns, pod, err), http.StatusNotFound)
		return
	}
	s.streams.Add(1)
	defer s.streams.Done()
	if wsstream.IsWebSocketRequestWithStreamCloseProtocol(r) {
		translator := streamproxy.NewStreamTranslatorHandler(s.loopbackURL(r), s.loopbackTransport(), 0, streamproxy.Options{
			Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr, Tty: opts.TTY,
		})
		translator.ServeHTTP(w, r)
		return
	}
	serveSPDY(&executor{p: s.p, namespace: ns}, pod, r.PathValue("uid"), container, opts)
}

// portForward answers /portForward/{namespace}/{pod}[/{uid}].
func (s *server) portForward(w http.ResponseWriter, r *http.Request) {
	ns, pod := r.PathValue("namespace"), r.PathValue("pod")
	s.streams.Add(1)
	defer s.streams.Done()
	if wsstream.IsWebSocketRequestWithTunnelingProtocol(r) {
		upstream := upgradeproxy.NewUpgradeAwareHandler(s.loopbackURL(r), s.loopbackTransport(), false, true, errorResponder{s})
		streamproxy.NewTunnelingHandler(upstream).ServeHTTP(w, r)
		return
	}
	opts, err := cripf.NewV4Options(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.log.Debug("port forward", "pod", ns+"/"+pod)
	fwd := &forwarder{p: s.p, namespace: ns, ctx: r.Context()}
	cripf.ServePortForward(w, r, fwd, pod, r.PathValue("uid"), opts,
		s.idle, crirc.DefaultStreamCreationTimeout, cripf.SupportedProtocols)
}

// loopbackURL is r's path and query on the in-process SPDY server.
func (s *server) loopbackURL(r *http.Request) *url.URL {
	return &url.URL{Scheme: "http", Host: internalHost, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
}

func (s *server) loopbackTransport() *http.Transport {
	return &http.Transport{DialContext: s.loop.DialContext}
}

type errorResponder struct{ s *server }

func (e errorResponder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	e.s.log.Warn("port-forward tunnel failed", "err", err)
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// executor adapts Provider.Exec to the CRI streaming handler.
type executor struct {
	p         Provider
	namespace string
}

func (e *executor) ExecInContainer(ctx context.Context, pod, _ string, container string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan crirc.TerminalSize, _ time.Duration) error {
	var sizes chan remotecommand.TerminalSize
	if resize != nil {
		sizes = make(chan remotecommand.TerminalSize)
		go forwardSizes(ctx, resize, sizes)
	}
	return exitCodeError(e.p.Exec(ctx, e.namespace, pod, container, cmd, in, out, errOut, tty, sizes))
}

func (e *executor) AttachContainer(ctx context.Context, pod, _ string, container string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan crirc.TerminalSize) error {
	var sizes chan remotecommand.TerminalSize
	if resize != nil {
		sizes = make(chan remotecommand.TerminalSize)
		go forwardSizes(ctx, resize, sizes)
	}
	return e.p.Attach(ctx, e.namespace, pod, container, in, out, errOut, tty, sizes)
}

// forwardSizes copies terminal sizes until in closes (the session's resize
// stream ended) or ctx ends (the request is over).
func forwardSizes(ctx context.Context, in <-chan crirc.TerminalSize, out chan<- remotecommand.TerminalSize) {
	defer close(out)
	for size := range in {
		select {
		case out <- remotecommand.TerminalSize{Width: size.Width, Height: size.Height}:
		case <-ctx.Done():
			return
		}
	}
}

// exitCodeError turns a command's non-zero exit into the error type the CRI
// handler reports as an exit code (it checks the concrete type, not a chain).
func exitCodeError(err error) error {
	if err == nil {
		return nil
	}
	code := -1
	var coder interface{ ExitCode() int }
	var status utilexec.ExitError
	switch {
	case errors.As(err, &coder):
		code = coder.ExitCode()
	case errors.As(err, &status) && status.Exited():
		code = status.ExitStatus()
	}
	switch {
	case code == 0:
		return nil
	case code > 0:
		return utilexec.CodeExitError{Err: err, Code: code}
	}
	return err
}

// forwarder adapts Provider.PortForward to the CRI streaming handler; ctx
// is the request's, which ends with the client's connection.
type forwarder struct {
	p         Provider
	namespace string
	ctx       context.Context
}

func (f *forwarder) PortForward(_ context.Context, pod, _ string, port int32, stream io.ReadWriteCloser) error {
	return f.p.PortForward(f.ctx, f.namespace, pod, port, stream)
}
