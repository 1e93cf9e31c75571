package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/kinns/kinns/kubelet/logs"
)

// fakeProvider knows one pod, default/web, with one container, app.
type fakeProvider struct {
	current, previous string // log paths
}

func (f *fakeProvider) find(ns, pod, container string) error {
	if ns != "default" || pod != "web" {
		return fmt.Errorf("pod %s/%s: %w", ns, pod, ErrNotFound)
	}
	if container != "app" {
		return fmt.Errorf("container %q: %w", container, ErrNotFound)
	}
	return nil
}

func (f *fakeProvider) LogPath(ns, pod, container string, previous bool) (string, error) {
	if err := f.find(ns, pod, container); err != nil {
		return "", err
	}
	if previous {
		return f.previous, nil
	}
	return f.current, nil
}

// Attach copies stdin to stdout, then says on stderr (stdout with a tty)
// that the run ended.
func (f *fakeProvider) Attach(ctx context.Context, ns, pod, container string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	if err := f.find(ns, pod, container); err != nil {
		return err
	}
	if stdin != nil {
		io.Copy(stdout, stdin)
	}
	if tty {
		fmt.Fprint(stdout, "|ended")
	} else {
		fmt.Fprint(stderr, "ended")
	}
	return nil
}

// Exec knows a few commands: echo ARGS, cat (stdin to stdout), fail CODE,
// tty (reports its streams and first terminal size), crash, and sleep
// (until ctx ends).
func (f *fakeProvider) Exec(ctx context.Context, ns, pod, container string, cmd []string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	switch cmd[0] {
	case "echo":
		fmt.Fprint(stdout, strings.Join(cmd[1:], " "))
	case "cat":
		io.Copy(stdout, stdin)
	case "fail":
		fmt.Fprint(stderr, "bad")
		code, _ := strconv.Atoi(cmd[1])
		return fmt.Errorf("run %v: %w", cmd, ExitError{Code: code})
	case "tty":
		fmt.Fprintf(stdout, "tty=%v stdin=%v", tty, stdin != nil)
		if stdin != nil {
			// Unread stdin would hold up a legacy websocket session's other
			// channels (one receive loop); a real runtime's stdin pipe absorbs it.
			go io.Copy(io.Discard, stdin)
		}
		if resize != nil {
			select {
			case size := <-resize:
				fmt.Fprintf(stdout, " size=%dx%d", size.Width, size.Height)
			case <-time.After(5 * time.Second):
			}
		}
	case "crash":
		return errors.New("runtime exploded")
	case "sleep":
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

// PortForward greets with the port, then echoes.
func (f *fakeProvider) PortForward(ctx context.Context, ns, pod string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	if err := f.find(ns, pod, "app"); err != nil {
		return err
	}
	fmt.Fprintf(stream, "port %d: ", port)
	_, err := io.Copy(stream, stream)
	return err
}

// testEnv is a running server and the identities that call it.
type testEnv struct {
	url   string
	ca    *testCA
	certs map[string]pemPair
	w     *logs.Writer // the current run's log
	// reviews are the resource attributes of every SubjectAccessReview.
	reviews *reviewLog
	stop    func() // stops the server and waits for Run to return
}

func startServer(t *testing.T) *testEnv {
	t.Helper()
	dir := t.TempDir()
	ca := newTestCA(t, "lab-ca")
	foreign := newTestCA(t, "other-ca")
	serving := ca.issue(t, "node-1", nil, net.ParseIP("127.0.0.1"))
	env := &testEnv{ca: ca, certs: map[string]pemPair{
		"apiserver": ca.issue(t, "kube-apiserver-kubelet-client", []string{"system:masters"}),
		"admin":     ca.issue(t, "kinns-admin", []string{"system:masters"}),
		"node":      ca.issue(t, "system:node:node-1", []string{"system:nodes"}),
		"foreign":   foreign.issue(t, "kube-apiserver-kubelet-client", []string{"system:masters"}),
	}}
	p := &fakeProvider{current: filepath.Join(dir, "app", "1.log"), previous: filepath.Join(dir, "app", "0.log")}
	writeLog(t, p.previous, "old run\n")
	w, err := logs.Create(p.current)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	fmt.Fprint(w.Stream("stdout"), "line 1\nline 2\n")
	fmt.Fprint(w.Stream("stderr"), "warn 3\n")
	env.w = w

	cs, reviews := fakeAPI(t)
	env.reviews = reviews
	cfg := Config{
		NodeName:     "node-1",
		Client:       cs,
		Address:      "127.0.0.1:0",
		CertFile:     writeTestFile(t, dir, "kubelet.crt", serving.cert),
		KeyFile:      writeTestFile(t, dir, "kubelet.key", serving.key),
		ClientCAFile: writeTestFile(t, dir, "ca.crt", ca.pem),
		Log:          slog.New(slog.DiscardHandler),
	}
	tlsCfg, err := tlsConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		t.Fatal(err)
	}
	env.url = "https://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, p, tls.NewListener(ln, tlsCfg)) }()
	var once sync.Once
	env.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("server did not stop")
			}
		})
	}
	t.Cleanup(env.stop)
	return env
}

func writeLog(t *testing.T, path, content string) {
	t.Helper()
	w, err := logs.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w.Stream("stdout"), content)
	w.Close()
}

// restConfig is how the API server (or an admin) reaches the kubelet.
func (e *testEnv) restConfig(identity string) *rest.Config {
	c := e.certs[identity]
	return &rest.Config{Host: e.url, TLSClientConfig: rest.TLSClientConfig{CAData: e.ca.pem, CertData: c.cert, KeyData: c.key}}
}

// client is a plain HTTPS client; identity "" presents no certificate.
func (e *testEnv) client(t *testing.T, identity string) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.ca.pem)
	cfg := &tls.Config{RootCAs: pool}
	if identity != "" {
		pair, err := tls.X509KeyPair(e.certs[identity].cert, e.certs[identity].key)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func (e *testEnv) get(t *testing.T, identity, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.do(t, identity, req)
}

// do sends req with identity's certificate ("" for none).
func (e *testEnv) do(t *testing.T, identity string, req *http.Request) (int, string) {
	t.Helper()
	resp, err := e.client(t, identity).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestContainerLogs(t *testing.T) {
	env := startServer(t)
	tests := []struct {
		name     string
		identity string
		path     string
		code     int
		body     string // exact body; for errors, a substring
	}{
		{"all", "apiserver", "/containerLogs/default/web/app", 200, "line 1\nline 2\nwarn 3\n"},
		{"admin may read", "admin", "/containerLogs/default/web/app", 200, "line 1\nline 2\nwarn 3\n"},
		{"tail", "apiserver", "/containerLogs/default/web/app?tailLines=2", 200, "line 2\nwarn 3\n"},
		{"legacy tail all", "apiserver", "/containerLogs/default/web/app?tail=all", 200, "line 1\nline 2\nwarn 3\n"},
		{"previous", "apiserver", "/containerLogs/default/web/app?previous=true", 200, "old run\n"},
		{"limit bytes", "apiserver", "/containerLogs/default/web/app?limitBytes=8", 200, "line 1\nl"},
		{"since the future", "apiserver", "/containerLogs/default/web/app?sinceTime=2999-01-01T00:00:00Z", 200, ""},
		{"since seconds", "apiserver", "/containerLogs/default/web/app?sinceSeconds=3600&tailLines=1", 200, "warn 3\n"},
		{"stderr stream", "apiserver", "/containerLogs/default/web/app?stream=Stderr", 200, "warn 3\n"},
		{"unknown pod", "apiserver", "/containerLogs/default/nope/app", 404, "pod default/nope"},
		{"unknown container", "apiserver", "/containerLogs/default/web/db", 404, `container "db"`},
		{"bad tailLines", "apiserver", "/containerLogs/default/web/app?tailLines=x", 400, "tailLines"},
		{"negative tailLines", "apiserver", "/containerLogs/default/web/app?tailLines=-1", 422, "tailLines"},
		{"two sinces", "apiserver", "/containerLogs/default/web/app?sinceSeconds=5&sinceTime=2020-01-01T00:00:00Z", 422, "sinceTime"},
		{"no certificate", "", "/containerLogs/default/web/app", 401, "Unauthorized"},
		{"node certificate", "node", "/containerLogs/default/web/app", 403, "user=system:node:node-1"},
		{"no certificate, unknown path", "", "/pods", 401, "Unauthorized"},
		{"healthz", "apiserver", "/healthz", 200, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := env.get(t, tt.identity, tt.path)
			if code != tt.code {
				t.Fatalf("status %d (%q), want %d", code, body, tt.code)
			}
			if tt.code == 200 && body != tt.body || tt.code != 200 && !strings.Contains(body, tt.body) {
				t.Errorf("body %q, want %q", body, tt.body)
			}
		})
	}
}

func TestContainerLogsTimestamps(t *testing.T) {
	env := startServer(t)
	_, body := env.get(t, "apiserver", "/containerLogs/default/web/app?timestamps=true&tailLines=1")
	ts, rest, _ := strings.Cut(body, " ")
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || rest != "warn 3\n" {
		t.Errorf("body %q, want <RFC3339Nano> warn 3", body)
	}
}

func TestContainerLogsFollow(t *testing.T) {
	env := startServer(t)
	resp, err := env.client(t, "apiserver").Get(env.url + "/containerLogs/default/web/app?follow=true&tailLines=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	readLine := func(want string) {
		t.Helper()
		line, err := r.ReadString('\n')
		if err != nil || line != want {
			t.Fatalf("read %q, %v; want %q", line, err, want)
		}
	}
	readLine("warn 3\n")
	fmt.Fprint(env.w.Stream("stdout"), "line 4\n")
	readLine("line 4\n")
	env.w.Close() // the run ends: the follow completes
	if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
		t.Errorf("after close: %q, %v; want a clean end", rest, err)
	}
}

func TestForeignCertificateRejected(t *testing.T) {
	env := startServer(t)
	// Go's client only offers a certificate the server's CA list accepts, so
	// this one arrives as no certificate at all; a client that sends it
	// anyway fails the handshake.
	resp, err := env.client(t, "foreign").Get(env.url + "/containerLogs/default/web/app")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a certificate from another CA got %s", resp.Status)
		}
	}
	forced := &tls.Config{InsecureSkipVerify: true, GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		pair, err := tls.X509KeyPair(env.certs["foreign"].cert, env.certs["foreign"].key)
		return &pair, err
	}}
	tr := &http.Transport{TLSClientConfig: forced}
	defer tr.CloseIdleConnections()
	if resp, err := (&http.Client{Transport: tr}).Get(env.url + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("a forced certificate from another CA was accepted: %s", resp.Status)
	}
}

func TestRunFailsWithoutCertificate(t *testing.T) {
	dir := t.TempDir()
	err := Run(context.Background(), Config{Address: "127.0.0.1:0", CertFile: filepath.Join(dir, "x.crt"), KeyFile: filepath.Join(dir, "x.key"), ClientCAFile: filepath.Join(dir, "ca.crt")}, &fakeProvider{})
	if err == nil || !strings.Contains(err.Error(), "serving certificate") {
		t.Errorf("Run = %v, want a certificate error", err)
	}
}

// TestStopEndsSessions stops the server while a log follow and an exec are
// open: both end, and Run returns.
func TestStopEndsSessions(t *testing.T) {
	env := startServer(t)
	resp, err := env.client(t, "apiserver").Get(env.url + "/containerLogs/default/web/app?follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ex, err := remotecommand.NewSPDYExecutor(env.restConfig("apiserver"), "POST", execURL(env.url, "/exec/default/web/app", []string{"sleep"}, false, false))
	if err != nil {
		t.Fatal(err)
	}
	execDone := make(chan error, 1)
	go func() {
		execDone <- ex.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
	}()
	time.Sleep(200 * time.Millisecond) // let the exec start
	env.stop()
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Errorf("follow after stop: %v", err)
	}
	select {
	case err := <-execDone:
		if err == nil {
			t.Error("exec ended without error when the server stopped")
		}
	case <-time.After(10 * time.Second):
		t.Error("exec still running after the server stopped")
	}
}
