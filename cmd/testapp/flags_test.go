package main

import (
	"testing"
	"time"
)

func TestServeFlagsFromEnvAndCommandLine(t *testing.T) {
	env := map[string]string{"TESTAPP_HTTP_PORT": "8081", "TESTAPP_TERM_DELAY": "3s"}
	cfg, err := parseServeFlags([]string{"--echo-port", "9001", "--term-delay", "5s"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := serveConfig{HTTPAddr: ":8081", EchoAddr: ":9001", TermDelay: 5 * time.Second}
	if cfg != want {
		t.Fatalf("config %+v, want %+v", cfg, want)
	}
}

func TestServeFlagsDefaults(t *testing.T) {
	cfg, err := parseServeFlags(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != ":8080" || cfg.EchoAddr != ":9000" || cfg.TermDelay != 0 {
		t.Fatalf("defaults %+v", cfg)
	}
}

func TestServeFlagsRejectBadValues(t *testing.T) {
	bad := []struct {
		args []string
		env  map[string]string
	}{
		{nil, map[string]string{"TESTAPP_HTTP_PORT": "http"}},
		{[]string{"--http-port", "70000"}, nil},
		{[]string{"extra"}, nil},
	}
	for _, b := range bad {
		if _, err := parseServeFlags(b.args, func(k string) string { return b.env[k] }); err == nil {
			t.Errorf("args %q env %v: no error", b.args, b.env)
		}
	}
}

func TestGetURLNormalization(t *testing.T) {
	cases := map[string]string{
		"10.96.0.10:8080/hostname":  "http://10.96.0.10:8080/hostname",
		"http://web/echo?msg=a":     "http://web/echo?msg=a",
		"https://127.0.0.1:6443/ok": "https://127.0.0.1:6443/ok",
	}
	for in, want := range cases {
		cfg, err := parseGetFlags([]string{in})
		if err != nil || cfg.URL != want || cfg.Timeout != 5*time.Second {
			t.Errorf("get %q: %+v, %v; want URL %q, timeout 5s", in, cfg, err, want)
		}
	}
	if _, err := parseGetFlags([]string{"http://"}); err == nil {
		t.Error("URL without host accepted")
	}
}

func TestRepeatFlags(t *testing.T) {
	g, err := parseGetFlags([]string{"--count", "20", "--interval", "100ms", "web:8080/hostname"})
	if err != nil || g.Count != 20 || g.Interval != 100*time.Millisecond {
		t.Errorf("get --count 20 --interval 100ms: %+v, %v", g, err)
	}
	if g, _ := parseGetFlags([]string{"web"}); g.Count != 1 || g.Interval != 0 || g.Insecure {
		t.Errorf("get defaults %+v, want count 1, interval 0, certificates checked", g)
	}
	if g, _ := parseGetFlags([]string{"--insecure", "https://10.96.0.1/healthz"}); !g.Insecure {
		t.Errorf("get --insecure: %+v", g)
	}
	u, err := parseUDPFlags([]string{"--count", "5", "10.96.0.20:9000", "hostname"})
	want := udpConfig{Addr: "10.96.0.20:9000", Message: "hostname", Count: 5, Timeout: 2 * time.Second}
	if err != nil || u != want {
		t.Errorf("udp --count 5: %+v, %v; want %+v", u, err, want)
	}
}

func TestRepeatFlagsRejectBadValues(t *testing.T) {
	badGet := [][]string{
		{"--count", "0", "web"},
		{"--count", "-3", "web"},
		{"--count", "many", "web"},
		{"--interval", "-1s", "web"},
		{"--interval", "soon", "web"},
	}
	for _, args := range badGet {
		if _, err := parseGetFlags(args); err == nil {
			t.Errorf("get %q: no error", args)
		}
	}
	badUDP := [][]string{
		{},
		{"10.96.0.20:9000"},
		{"10.96.0.20:9000", "a", "b"},
		{"10.96.0.20", "hello"},
		{":9000", "hello"},
		{"10.96.0.20:", "hello"},
		{"--count", "0", "10.96.0.20:9000", "hello"},
		{"--interval", "-1ms", "10.96.0.20:9000", "hello"},
		{"--timeout", "0s", "10.96.0.20:9000", "hello"},
		{"--timeout", "-2s", "10.96.0.20:9000", "hello"},
	}
	for _, args := range badUDP {
		if _, err := parseUDPFlags(args); err == nil {
			t.Errorf("udp %q: no error", args)
		}
	}
}
