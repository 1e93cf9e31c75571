package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// testApp returns an app whose clock the test moves.
func testApp(t *testing.T, cfg serveConfig) (*app, http.Handler, *time.Time) {
	t.Helper()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if cfg.Hostname == "" {
		cfg.Hostname = "pod-a"
	}
	a := newApp(cfg, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	return a, a.routes(), &now
}

// do sends one request through h and returns status, body and response headers.
func do(t *testing.T, h http.Handler, method, target, body string) (int, string, http.Header) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.RemoteAddr = "10.244.2.7:41000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b), rec.Result().Header
}

func TestHostnameHasNoTrailingNewline(t *testing.T) {
	_, h, _ := testApp(t, serveConfig{Hostname: "web-0"})
	code, body, _ := do(t, h, "GET", "/hostname", "")
	if code != 200 || body != "web-0" {
		t.Fatalf("/hostname = %d %q, want 200 \"web-0\"", code, body)
	}
}

func TestPodNamePrefersEnvironment(t *testing.T) {
	host := func() (string, error) { return "uts-name", nil }
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if n, _ := podName(getenv, host); n != "uts-name" {
		t.Errorf("without POD_NAME: %q, want uts-name", n)
	}
	env["POD_NAME"] = "web-1"
	if n, _ := podName(getenv, host); n != "web-1" {
		t.Errorf("with POD_NAME: %q, want web-1", n)
	}
}

func TestHealthzSwitch(t *testing.T) {
	_, h, _ := testApp(t, serveConfig{})
	steps := []struct {
		target     string
		wantCode   int
		wantPrefix string
	}{
		{"/healthz", 200, "ok"},
		{"/healthz?fail=1", 200, "/healthz now fails"},
		{"/healthz", 500, "failing"},
		{"/healthz", 500, "failing"},
		{"/healthz?fail=0", 200, "/healthz now succeeds"},
		{"/healthz", 200, "ok"},
		{"/healthz?fail=maybe", 400, "fail must be"},
	}
	for _, s := range steps {
		code, body, _ := do(t, h, "GET", s.target, "")
		if code != s.wantCode || !strings.HasPrefix(body, s.wantPrefix) {
			t.Fatalf("%s = %d %q, want %d %q", s.target, code, body, s.wantCode, s.wantPrefix)
		}
	}
}

func TestReadySwitchIsIndependentOfHealthz(t *testing.T) {
	_, h, _ := testApp(t, serveConfig{})
	do(t, h, "GET", "/ready?fail=1", "")
	if code, _, _ := do(t, h, "GET", "/ready", ""); code != 503 {
		t.Fatalf("/ready after fail=1 = %d, want 503", code)
	}
	if code, _, _ := do(t, h, "GET", "/healthz", ""); code != 200 {
		t.Fatalf("/healthz while not ready = %d, want 200", code)
	}
	do(t, h, "GET", "/ready?fail=0", "")
	if code, body, _ := do(t, h, "GET", "/ready", ""); code != 200 || body != "ready" {
		t.Fatalf("/ready after fail=0 = %d %q, want 200 ready", code, body)
	}
}

func TestReadyDelay(t *testing.T) {
	_, h, now := testApp(t, serveConfig{ReadyDelay: 3 * time.Second})
	if code, _, _ := do(t, h, "GET", "/ready", ""); code != 503 {
		t.Fatalf("/ready at start = %d, want 503", code)
	}
	*now = now.Add(3 * time.Second)
	if code, _, _ := do(t, h, "GET", "/ready", ""); code != 200 {
		t.Fatalf("/ready after the delay = %d, want 200", code)
	}
}

func TestEcho(t *testing.T) {
	_, h, _ := testApp(t, serveConfig{Hostname: "web-2"})
	cases := []struct {
		name, method, target, body, want string
	}{
		{"body", "POST", "/echo", "hello body", "hello body"},
		{"body wins over msg", "POST", "/echo?msg=no", "yes", "yes"},
		{"msg", "GET", "/echo?msg=hello%20msg", "", "hello msg"},
		{"empty", "GET", "/echo", "", ""},
		{"client", "GET", "/echo?client=1&msg=x", "", "10.244.2.7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body, hdr := do(t, h, c.method, c.target, c.body)
			if code != 200 || body != c.want {
				t.Fatalf("%s %s = %d %q, want 200 %q", c.method, c.target, code, body, c.want)
			}
			if got := hdr.Get("X-Client-Addr"); got != "10.244.2.7:41000" {
				t.Errorf("X-Client-Addr = %q", got)
			}
			if got := hdr.Get("X-Served-By"); got != "web-2" {
				t.Errorf("X-Served-By = %q", got)
			}
		})
	}
}

func TestExitAnswersThenRequestsExit(t *testing.T) {
	a, h, _ := testApp(t, serveConfig{})
	if code, _, _ := do(t, h, "GET", "/exit?code=300", ""); code != 400 {
		t.Fatalf("/exit?code=300 = %d, want 400", code)
	}
	if code, _, _ := do(t, h, "GET", "/exit", ""); code != 400 {
		t.Fatalf("/exit without code = %d, want 400", code)
	}
	code, body, _ := do(t, h, "GET", "/exit?code=7", "")
	if code != 200 || body != "exiting with code 7" {
		t.Fatalf("/exit?code=7 = %d %q", code, body)
	}
	// A second /exit must not block: the first one wins.
	do(t, h, "GET", "/exit?code=9", "")
	if got := <-a.exit; got != 7 {
		t.Fatalf("exit code %d, want 7", got)
	}
}

func TestUnknownPathIs404(t *testing.T) {
	_, h, _ := testApp(t, serveConfig{})
	if code, _, _ := do(t, h, "GET", "/nope", ""); code != 404 {
		t.Fatalf("/nope = %d, want 404", code)
	}
	if code, _, _ := do(t, h, "GET", "/", ""); code != 200 {
		t.Fatalf("/ = %d, want 200", code)
	}
}
