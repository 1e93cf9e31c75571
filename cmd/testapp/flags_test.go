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
