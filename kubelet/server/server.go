package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/remotecommand"
)

// ErrNotFound is what a Provider wraps when the pod, container or run asked
// for is unknown; the server answers 404.
var ErrNotFound = errors.New("not found")

// Provider is the kubelet core as the server sees it. Methods are called
// concurrently.
type Provider interface {
	// LogPath returns the CRI-format log file of a container's current run (previous: the run before).
	// Exec also calls it (previous false) before upgrading the connection, so
	// that an unknown pod or container is answered 404 rather than through the
	// stream; only an ErrNotFound answer counts there.
	LogPath(namespace, pod, container string, previous bool) (string, error)
	// Exec runs cmd in the container; stdin may be nil; resize may be nil (no tty).
	// stdout and stderr are nil (or, on legacy websocket sessions, discarding
	// writers) when not requested; stderr is never requested with a tty.
	// A non-zero exit is an error with an `ExitCode() int` method (ExitError,
	// *os/exec.ExitError) or a k8s.io/utils/exec.ExitError; the client gets the
	// code. Copy stdin promptly (into the process's stdin pipe): input left
	// unread can hold up the session's other streams. ctx ends when the
	// server stops; a client that goes away shows as stdin EOF and failing
	// writes. Exec must not return before it is done with the streams.
	Exec(ctx context.Context, namespace, pod, container string, cmd []string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error
	// Attach joins the container's current run: its output to stdout and
	// stderr (nil when not requested; stderr never with a tty), stdin (may
	// be nil) to the run's stdin if it has one, terminal sizes from resize
	// (may be nil). It returns when the run ends, the client leaves (stdin
	// ends, writes fail) or ctx ends, and not before it is done with the
	// streams.
	Attach(ctx context.Context, namespace, pod, container string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error
	// PortForward connects stream to the pod's port (inside the pod's network namespace).
	// It returns when either side closes; ctx ends with the client's
	// connection or when the server stops. An error is shown to the client.
	PortForward(ctx context.Context, namespace, pod string, port int32, stream io.ReadWriteCloser) error
}

// ExitError is a convenient error for a command that exited with Code.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("command terminated with exit code %d", e.Code) }

// ExitCode returns Code.
func (e ExitError) ExitCode() int { return e.Code }

// Config of the kubelet's HTTPS server.
type Config struct {
	// Address to listen on, e.g. ":10250".
	Address string `json:"address"`
	// CertFile and KeyFile are the serving certificate and key (PEM).
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
	// ClientCAFile holds the CA(s) that sign accepted client certificates.
	ClientCAFile string `json:"clientCAFile"`
	// NodeName is the node whose nodes/proxy (…) rights callers need.
	NodeName string `json:"nodeName"`
	// Client reviews callers' tokens (TokenReview) and rights
	// (SubjectAccessReview) with the API server.
	Client kubernetes.Interface `json:"-"`
	// StreamIdleTimeout closes exec and port-forward sessions idle that long
	// (zero: 4h, the kubelet's default).
	StreamIdleTimeout time.Duration `json:"streamIdleTimeout,omitempty"`
	// Log receives the server's own messages; nil discards them.
	Log *slog.Logger `json:"-"`
}

const (
	defaultStreamIdleTimeout = 4 * time.Hour
	shutdownGrace            = 5 * time.Second
)

// Run serves the kubelet API until ctx is done, then stops: requests in
// flight get their context cancelled and up to 5s to finish. It returns an
// error when the server cannot start or fails.
func Run(ctx context.Context, cfg Config, p Provider) error {
	tlsCfg, err := tlsConfig(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return fmt.Errorf("listen on %q: %w", cfg.Address, err)
	}
	return serve(ctx, cfg, p, tls.NewListener(ln, tlsCfg))
}

// server holds what the handlers share.
type server struct {
	p    Provider
	auth *auth
	log  *slog.Logger
	idle time.Duration
	// loop is an in-process listener for the SPDY endpoints: websocket
	// sessions (exec v5, SPDY-over-websocket port forwarding) are translated by
	// the upstream handlers into SPDY sessions dialled to it.
	loop    *loopback
	streams sync.WaitGroup // exec and port-forward sessions in flight
}

// serve runs the server on ln (already TLS) until ctx is done.
func serve(ctx context.Context, cfg Config, p Provider, ln net.Listener) error {
	a, err := newAuth(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	s := &server{p: p, auth: a, log: cfg.Log, idle: cfg.StreamIdleTimeout, loop: newLoopback()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.idle <= 0 {
		s.idle = defaultStreamIdleTimeout
	}
	public := s.httpServer(ctx, s.publicHandler())
	internal := s.httpServer(ctx, s.streamingHandler())

	errs := make(chan error, 2)
	go func() { errs <- public.Serve(ln) }()
	go func() { errs <- internal.Serve(s.loop) }()
	s.log.Info("kubelet server listening", "address", ln.Addr().String())

	pending := 2
	select {
	case <-ctx.Done():
	case err = <-errs:
		pending--
		err = fmt.Errorf("serve kubelet API on %s: %w", ln.Addr(), err)
	}
	s.shutdown(public, internal)
	for ; pending > 0; pending-- {
		<-errs // http.ErrServerClosed once shut down
	}
	return err
}

func (s *server) httpServer(ctx context.Context, h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		// HTTP/1.1 only: upgrades (SPDY, websocket) need a hijackable connection.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
}

// shutdown stops both servers and waits a bounded time for streaming
// sessions, whose contexts (children of Run's) are already cancelled.
func (s *server) shutdown(servers ...*http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
	}
	done := make(chan struct{})
	go func() { s.streams.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn("streaming sessions still running after shutdown")
	}
}

func (s *server) publicHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.containerLogs)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	s.addStreamingRoutes(mux)
	return s.auth.filter(s.log.Warn, mux)
}

// streamingHandler serves the loopback: the SPDY ends of translated
// websocket sessions, already authorised on the public side.
func (s *server) streamingHandler() http.Handler {
	mux := http.NewServeMux()
	s.addStreamingRoutes(mux)
	return mux
}

func (s *server) addStreamingRoutes(mux *http.ServeMux) {
	for _, method := range []string{"GET", "POST"} {
		// The API server uses the forms without the pod UID; the kubelet
		// API also has them with it, which are accepted and the UID ignored.
		mux.HandleFunc(method+" /exec/{namespace}/{pod}/{container}", s.exec)
		mux.HandleFunc(method+" /exec/{namespace}/{pod}/{uid}/{container}", s.exec)
		mux.HandleFunc(method+" /attach/{namespace}/{pod}/{container}", s.attach)
		mux.HandleFunc(method+" /attach/{namespace}/{pod}/{uid}/{container}", s.attach)
		mux.HandleFunc(method+" /portForward/{namespace}/{pod}", s.portForward)
		mux.HandleFunc(method+" /portForward/{namespace}/{pod}/{uid}", s.portForward)
	}
}

// httpError answers err as plain text: 404 for ErrNotFound, code otherwise.
func httpError(w http.ResponseWriter, err error, code int) {
	if errors.Is(err, ErrNotFound) {
		code = http.StatusNotFound
	}
	http.Error(w, err.Error(), code)
}
