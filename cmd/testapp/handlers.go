package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// app holds the state the HTTP endpoints share: the switches that probe tests
// flip, and where /exit asks the process to end.
type app struct {
	hostname string
	// readyAt is when /ready starts to succeed (--ready-delay after start).
	readyAt time.Time
	now     func() time.Time
	// healthFail and readyFail are flipped by ?fail=1 and ?fail=0.
	healthFail atomic.Bool
	readyFail  atomic.Bool
	// exit receives the status of the first /exit request; serve owns the rest.
	exit chan int
	log  *slog.Logger
}

func newApp(cfg serveConfig, now func() time.Time, log *slog.Logger) *app {
	return &app{
		hostname: cfg.Hostname,
		readyAt:  now().Add(cfg.ReadyDelay),
		now:      now,
		exit:     make(chan int, 1),
		log:      log,
	}
}

// maxEcho bounds what /echo reads, so a test cannot make the pod use much memory.
const maxEcho = 1 << 20

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hostname", a.handleHostname)
	mux.HandleFunc("/healthz", a.handleProbe(&a.healthFail, "ok", "failing", http.StatusInternalServerError))
	mux.HandleFunc("/ready", a.handleReady)
	mux.HandleFunc("/echo", a.handleEcho)
	mux.HandleFunc("/exit", a.handleExit)
	mux.HandleFunc("/{$}", a.handleIndex)
	return a.logRequests(mux)
}

func (a *app) handleIndex(w http.ResponseWriter, r *http.Request) {
	reply(w, http.StatusOK, "testapp on "+a.hostname+": /hostname /healthz /ready /echo /exit?code=N\n")
}

func (a *app) handleHostname(w http.ResponseWriter, r *http.Request) {
	reply(w, http.StatusOK, a.hostname)
}

// handleProbe answers okBody, or failStatus while the flag is set; ?fail=1 and
// ?fail=0 set and clear the flag and always answer 200, so that the client that
// flips it (testapp get) succeeds.
func (a *app) handleProbe(fail *atomic.Bool, okBody, failBody string, failStatus int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("fail") {
			a.flip(w, r, fail)
			return
		}
		if fail.Load() {
			reply(w, failStatus, failBody)
			return
		}
		reply(w, http.StatusOK, okBody)
	}
}

func (a *app) handleReady(w http.ResponseWriter, r *http.Request) {
	if !r.URL.Query().Has("fail") && a.now().Before(a.readyAt) {
		reply(w, http.StatusServiceUnavailable, "not ready yet")
		return
	}
	a.handleProbe(&a.readyFail, "ready", "not ready", http.StatusServiceUnavailable)(w, r)
}

func (a *app) flip(w http.ResponseWriter, r *http.Request, fail *atomic.Bool) {
	v, err := strconv.ParseBool(r.URL.Query().Get("fail"))
	if err != nil {
		reply(w, http.StatusBadRequest, "fail must be 1 or 0")
		return
	}
	fail.Store(v)
	a.log.Info("probe switched", "path", r.URL.Path, "failing", v)
	if v {
		reply(w, http.StatusOK, r.URL.Path+" now fails")
		return
	}
	reply(w, http.StatusOK, r.URL.Path+" now succeeds")
}

// handleEcho answers the body, else ?msg=, else nothing; ?client=1 answers the
// caller's IP instead. Headers always name the caller and the server, so a
// Service test learns both who called and who answered.
func (a *app) handleEcho(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Client-Addr", r.RemoteAddr)
	w.Header().Set("X-Served-By", a.hostname)
	q := r.URL.Query()
	if on, _ := strconv.ParseBool(q.Get("client")); on {
		reply(w, http.StatusOK, clientIP(r.RemoteAddr))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxEcho))
	if err != nil {
		reply(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	if len(body) == 0 {
		body = []byte(q.Get("msg"))
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func (a *app) handleExit(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.URL.Query().Get("code"))
	if err != nil || code < 0 || code > 255 {
		reply(w, http.StatusBadRequest, "code must be an integer from 0 to 255")
		return
	}
	reply(w, http.StatusOK, fmt.Sprintf("exiting with code %d", code))
	// serve waits for this answer to be sent before the process ends.
	select {
	case a.exit <- code:
	default: // an exit is already under way
	}
}

// logRequests logs every request except plain probes, which the kubelet sends
// every second or so.
func (a *app) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probe := (r.URL.Path == "/healthz" || r.URL.Path == "/ready") && r.URL.RawQuery == ""
		if !probe {
			a.log.Info("request", "method", r.Method, "url", r.URL.String(), "client", r.RemoteAddr)
		}
		next.ServeHTTP(w, r)
	})
}

func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func clientIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

// podName is $POD_NAME if set (the downward API's name is what tests know),
// else the host name, which the kubelet sets to the pod's name anyway.
func podName(getenv func(string) string, hostname func() (string, error)) (string, error) {
	if n := getenv("POD_NAME"); n != "" {
		return n, nil
	}
	n, err := hostname()
	if err != nil {
		return "", fmt.Errorf("read host name: %w", err)
	}
	return n, nil
}
