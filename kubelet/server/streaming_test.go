package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	utilexec "k8s.io/client-go/util/exec"
)

// executors are the ways an exec reaches the kubelet: SPDY (what the API
// server sends when it translates kubectl's websocket, and what older
// clients use), websocket v5 (what it forwards to nodes declaring
// ExtendWebSocketsToKubelet), and the older websocket and SPDY versions.
var executors = map[string]func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error){
	"spdy": func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
		return remotecommand.NewSPDYExecutor(cfg, "POST", u)
	},
	"spdy v2": func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
		rt, upgrader, err := spdy.RoundTripperFor(cfg)
		if err != nil {
			return nil, err
		}
		return remotecommand.NewSPDYExecutorForProtocols(rt, upgrader, "POST", u, "v2.channel.k8s.io")
	},
	"websocket v5": func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
		return remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	},
	"websocket v4": func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
		return remotecommand.NewWebSocketExecutorForProtocols(cfg, "GET", u.String(), "v4.channel.k8s.io")
	},
}

// sizeQueue hands out one terminal size, then reports the end.
type sizeQueue struct{ sizes []remotecommand.TerminalSize }

func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	if len(q.sizes) == 0 {
		return nil
	}
	s := q.sizes[0]
	q.sizes = q.sizes[1:]
	return &s
}

func execURL(base, path string, cmd []string, stdin, tty bool) *url.URL {
	q := url.Values{"command": cmd, "output": {"1"}}
	if stdin {
		q.Set("input", "1")
	}
	if tty {
		q.Set("tty", "1")
	} else {
		q.Set("error", "1")
	}
	u, _ := url.Parse(base + path)
	u.RawQuery = q.Encode()
	return u
}

func TestExec(t *testing.T) {
	env := startServer(t)
	tests := []struct {
		name       string
		cmd        []string
		stdin      string
		tty        bool
		wantOut    string
		wantErr    string
		wantCode   int  // exit code expected, 0 for success
		wantFailed bool // an error that is not an exit code
	}{
		{name: "echo", cmd: []string{"echo", "hello", "world"}, wantOut: "hello world"},
		{name: "stdin", cmd: []string{"cat"}, stdin: "some input\n", wantOut: "some input\n"},
		{name: "exit code", cmd: []string{"fail", "3"}, wantErr: "bad", wantCode: 3},
		{name: "tty", cmd: []string{"tty"}, stdin: "x", tty: true, wantOut: "tty=true stdin=true size=120x40"},
		{name: "runtime error", cmd: []string{"crash"}, wantFailed: true},
	}
	// What the older protocols cannot do (the API server never sends them
	// to a kubelet, but other clients may).
	skip := map[string]map[string]string{
		"spdy v2":      {"tty": "no resize stream"},
		"websocket v4": {"stdin": "no way to close stdin (v5 added it)"},
	}
	for proto, newExecutor := range executors {
		for _, tt := range tests {
			if why := skip[proto][tt.name]; why != "" {
				continue
			}
			if proto == "spdy v2" && tt.wantCode != 0 {
				// v2 reports a failed command as text, without its code.
				tt.wantFailed, tt.wantCode = true, 0
			}
			t.Run(proto+"/"+tt.name, func(t *testing.T) {
				u := execURL(env.url, "/exec/default/web/app", tt.cmd, tt.stdin != "", tt.tty)
				ex, err := newExecutor(env.restConfig("apiserver"), u)
				if err != nil {
					t.Fatal(err)
				}
				var stdout, stderr bytes.Buffer
				opts := remotecommand.StreamOptions{Stdout: &stdout, Tty: tt.tty}
				if !tt.tty {
					opts.Stderr = &stderr
				}
				if tt.stdin != "" {
					opts.Stdin = strings.NewReader(tt.stdin)
				}
				if tt.tty {
					opts.TerminalSizeQueue = &sizeQueue{sizes: []remotecommand.TerminalSize{{Width: 120, Height: 40}}}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				err = ex.StreamWithContext(ctx, opts)
				checkExecResult(t, err, tt.wantCode, tt.wantFailed)
				if stdout.String() != tt.wantOut || stderr.String() != tt.wantErr {
					t.Errorf("stdout %q stderr %q, want %q %q", stdout.String(), stderr.String(), tt.wantOut, tt.wantErr)
				}
			})
		}
	}
}

// Attach takes the protocols exec does, and answers an unknown container
// 404 before any upgrade.
func TestAttach(t *testing.T) {
	env := startServer(t)
	for proto, newExecutor := range executors {
		for _, tty := range []bool{false, true} {
			if proto == "spdy v2" && tty || proto == "websocket v4" {
				continue // no resize stream; no way to close stdin
			}
			t.Run(fmt.Sprintf("%s/tty=%v", proto, tty), func(t *testing.T) {
				u := execURL(env.url, "/attach/default/web/app", nil, true, tty)
				ex, err := newExecutor(env.restConfig("apiserver"), u)
				if err != nil {
					t.Fatal(err)
				}
				var stdout, stderr bytes.Buffer
				opts := remotecommand.StreamOptions{Stdin: strings.NewReader("typed\n"), Stdout: &stdout, Tty: tty}
				want, wantErr := "typed\n", "ended"
				if tty {
					want, wantErr = "typed\n|ended", ""
				} else {
					opts.Stderr = &stderr
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := ex.StreamWithContext(ctx, opts); err != nil {
					t.Fatal(err)
				}
				if stdout.String() != want || stderr.String() != wantErr {
					t.Errorf("stdout %q stderr %q, want %q %q", stdout.String(), stderr.String(), want, wantErr)
				}
			})
		}
	}
	resp, err := env.client(t, "apiserver").Post(env.url+"/attach/default/web/nope?output=1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("attach to an unknown container: %s, want 404", resp.Status)
	}
}

func checkExecResult(t *testing.T, err error, wantCode int, wantFailed bool) {
	t.Helper()
	var exitErr utilexec.CodeExitError
	switch {
	case wantFailed:
		if err == nil || errors.As(err, &exitErr) {
			t.Errorf("err = %v, want a failure without exit code", err)
		}
	case wantCode != 0:
		if !errors.As(err, &exitErr) || exitErr.Code != wantCode {
			t.Errorf("err = %v, want exit code %d", err, wantCode)
		}
	case err != nil:
		t.Errorf("err = %v", err)
	}
}

func TestExecRejected(t *testing.T) {
	env := startServer(t)
	tests := []struct {
		name, identity, path string
		wantCode             int
	}{
		{"unknown pod", "apiserver", "/exec/default/nope/app", http.StatusNotFound},
		{"unknown container", "apiserver", "/exec/default/web/db", http.StatusNotFound},
		{"node identity", "node", "/exec/default/web/app", http.StatusForbidden},
	}
	for proto, newExecutor := range executors {
		for _, tt := range tests {
			t.Run(proto+"/"+tt.name, func(t *testing.T) {
				ex, err := newExecutor(env.restConfig(tt.identity), execURL(env.url, tt.path, []string{"echo"}, false, false))
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
				if err == nil {
					t.Fatal("exec succeeded")
				}
			})
		}
	}
	// The status codes themselves, as a plain upgrade request sees them.
	for _, tt := range append(tests, struct {
		name, identity, path string
		wantCode             int
	}{"no certificate", "", "/exec/default/web/app", http.StatusUnauthorized}) {
		t.Run("status/"+tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", execURL(env.url, tt.path, []string{"echo"}, false, false).String(), nil)
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "SPDY/3.1")
			req.Header.Set("X-Stream-Protocol-Version", "v4.channel.k8s.io")
			resp, err := env.client(t, tt.identity).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantCode)
			}
		})
	}
}

// dialers are the ways a port-forward reaches the kubelet: SPDY (what the API
// server sends when it translates kubectl's websocket tunnel) and the
// SPDY-over-websocket tunnel (what it forwards to nodes declaring
// ExtendWebSocketsToKubelet).
var dialers = map[string]func(cfg *rest.Config, u *url.URL) (httpstream.Dialer, error){
	"spdy": func(cfg *rest.Config, u *url.URL) (httpstream.Dialer, error) {
		rt, upgrader, err := spdy.RoundTripperFor(cfg)
		if err != nil {
			return nil, err
		}
		return spdy.NewDialer(upgrader, &http.Client{Transport: rt}, "POST", u), nil
	},
	"websocket tunnel": func(cfg *rest.Config, u *url.URL) (httpstream.Dialer, error) {
		return portforward.NewSPDYOverWebsocketDialer(u, cfg)
	},
}

func TestPortForward(t *testing.T) {
	env := startServer(t)
	for proto, newDialer := range dialers {
		t.Run(proto, func(t *testing.T) {
			u, _ := url.Parse(env.url + "/portForward/default/web")
			dialer, err := newDialer(env.restConfig("apiserver"), u)
			if err != nil {
				t.Fatal(err)
			}
			local := forwardPorts(t, dialer, "0:8080", "0:9000")
			for i, want := range []int32{8080, 9000} {
				for round := range 2 { // each local connection is its own stream pair
					msg := fmt.Sprintf("hello %d.%d", i, round)
					got := echoThrough(t, local[i], len(fmt.Sprintf("port %d: ", want))+len(msg), msg)
					if wantReply := fmt.Sprintf("port %d: %s", want, msg); got != wantReply {
						t.Errorf("reply %q, want %q", got, wantReply)
					}
				}
			}
		})
	}
}

func TestPortForwardRejected(t *testing.T) {
	env := startServer(t)
	for proto, newDialer := range dialers {
		t.Run(proto+"/node identity", func(t *testing.T) {
			u, _ := url.Parse(env.url + "/portForward/default/web")
			dialer, err := newDialer(env.restConfig("node"), u)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := dialer.Dial(portforward.PortForwardProtocolV1Name); err == nil {
				t.Error("dial succeeded for a node identity")
			}
		})
		t.Run(proto+"/unknown pod", func(t *testing.T) {
			u, _ := url.Parse(env.url + "/portForward/default/nope")
			dialer, err := newDialer(env.restConfig("apiserver"), u)
			if err != nil {
				t.Fatal(err)
			}
			local := forwardPorts(t, dialer, "0:8080")
			conn, err := net.Dial("tcp", local[0])
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			if n, err := conn.Read(make([]byte, 1)); err == nil {
				t.Errorf("read %d bytes from a pod that does not exist", n)
			}
		})
	}
}

// forwardPorts runs client-go's port forwarder (as kubectl port-forward
// does) and returns its local addresses, in the order of ports.
func forwardPorts(t *testing.T, dialer httpstream.Dialer, ports ...string) []string {
	t.Helper()
	stop, ready := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, ports, stop, ready, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("port forward: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("port forward not ready")
	}
	forwarded, err := fw.GetPorts()
	if err != nil {
		t.Fatal(err)
	}
	addrs := make([]string, len(forwarded))
	for i, p := range forwarded {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", p.Local)
	}
	return addrs
}

// echoThrough sends msg on a new connection to addr and reads n bytes back.
func echoThrough(t *testing.T, addr string, n int, msg string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(conn, buf); err != nil {
		t.Fatalf("read echo: %v (got %q)", err, buf)
	}
	return string(buf)
}
