package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"
)

// running is a serve loop on loopback ports that the test drives.
type running struct {
	ls   listeners
	sigs chan os.Signal
	done chan int
}

func startServe(t *testing.T, ctx context.Context, cfg serveConfig) *running {
	t.Helper()
	cfg.HTTPAddr, cfg.EchoAddr, cfg.Hostname = "127.0.0.1:0", "127.0.0.1:0", "pod-t"
	ls, err := listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// UDP and TCP echo share one port in a pod; here each got its own.
	r := &running{ls: ls, sigs: make(chan os.Signal, 2), done: make(chan int, 1)}
	go func() { r.done <- serve(ctx, cfg, ls, slog.New(slog.DiscardHandler), r.sigs) }()
	return r
}

func (r *running) url(path string) string { return "http://" + r.ls.http.Addr().String() + path }

// wait returns serve's exit status, failing the test if it takes over limit.
func (r *running) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case code := <-r.done:
		return code
	case <-time.After(limit):
		t.Fatalf("serve still running after %s", limit)
		return -1
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeEchoesOverTCPAndUDP(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := startServe(t, ctx, serveConfig{})

	c, err := net.Dial("tcp", r.ls.tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("over tcp"))
	c.(*net.TCPConn).CloseWrite()
	got, _ := io.ReadAll(c)
	c.Close()
	if string(got) != "over tcp" {
		t.Fatalf("TCP echo = %q", got)
	}

	u, err := net.Dial("udp", r.ls.udp.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.SetDeadline(time.Now().Add(5 * time.Second))
	u.Write([]byte("over udp"))
	buf := make([]byte, 100)
	n, err := u.Read(buf)
	if err != nil || string(buf[:n]) != "over udp" {
		t.Fatalf("UDP echo = %q, %v", buf[:n], err)
	}

	// A TCP connection left open must not keep serve from ending.
	idle, err := net.Dial("tcp", r.ls.tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	cancel()
	if code := r.wait(t, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d after cancel, want 0", code)
	}
}

func TestServeExitEndpoint(t *testing.T) {
	r := startServe(t, context.Background(), serveConfig{})
	if code, body := httpGet(t, r.url("/exit?code=3")); code != 200 || body != "exiting with code 3" {
		t.Fatalf("/exit = %d %q", code, body)
	}
	if code := r.wait(t, 5*time.Second); code != 3 {
		t.Fatalf("exit status %d, want 3", code)
	}
}

func TestServeSIGTERMExitsZeroAtOnce(t *testing.T) {
	r := startServe(t, context.Background(), serveConfig{})
	httpGet(t, r.url("/hostname"))
	start := time.Now()
	r.sigs <- syscall.SIGTERM
	if code := r.wait(t, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d, want 0", code)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %s to exit after SIGTERM", d)
	}
}

func TestServeTermDelayKeepsServing(t *testing.T) {
	const delay = 400 * time.Millisecond
	r := startServe(t, context.Background(), serveConfig{TermDelay: delay})
	start := time.Now()
	r.sigs <- syscall.SIGTERM
	r.sigs <- syscall.SIGTERM // a second one does not cut the delay short
	if code, body := httpGet(t, r.url("/hostname")); code != 200 || body != "pod-t" {
		t.Fatalf("/hostname during the term delay = %d %q", code, body)
	}
	if code := r.wait(t, 5*time.Second); code != 0 {
		t.Fatalf("exit status %d, want 0", code)
	}
	if d := time.Since(start); d < delay {
		t.Fatalf("exited %s after SIGTERM, before the %s delay", d, delay)
	}
}

func TestRunModes(t *testing.T) {
	cases := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{[]string{"help"}, 0, "usage:"},
		{[]string{"--help"}, 0, "usage:"},
		{[]string{"get", "-h"}, 0, "usage:"},
		{[]string{"dance"}, 2, ""},
		{[]string{"serve", "--bogus"}, 2, ""},
		{[]string{"get"}, 2, ""},
		{[]string{"get", "--count", "0", "127.0.0.1:1/"}, 2, ""},
		{[]string{"udp", "-h"}, 0, "usage:"},
		{[]string{"udp", "127.0.0.1:1"}, 2, ""},
		{[]string{"resolve", "-h"}, 0, "usage:"},
		{[]string{"resolve"}, 2, ""},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		code := run(context.Background(), c.args, &out, &errOut)
		if code != c.wantCode || !bytes.HasPrefix(out.Bytes(), []byte(c.wantOut)) {
			t.Errorf("run %q = %d, stdout %q, stderr %q; want %d and stdout %q…", c.args, code, out.String(), errOut.String(), c.wantCode, c.wantOut)
		}
	}
}
