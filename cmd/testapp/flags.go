package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// serveConfig is what serve needs; flags fill it, with defaults from the
// environment so that a pod spec can set them either way.
type serveConfig struct {
	HTTPAddr   string
	EchoAddr   string
	TermDelay  time.Duration
	ReadyDelay time.Duration
	// Hostname is what /hostname answers and X-Served-By carries.
	Hostname string
}

// getConfig is what get needs.
type getConfig struct {
	URL     string
	Timeout time.Duration // for each request
	// Count requests are made, Interval apart. A Count of 1 prints exactly
	// the body; more print one line per request (see repeat).
	Count    int
	Interval time.Duration
	// Insecure skips the check of an HTTPS server's certificate (the lab's
	// API server, whose CA a pod need not trust).
	Insecure bool
	// TokenFile, if set, holds a bearer token sent with each request; it is
	// read anew for each (a projected token is renewed while the pod runs).
	TokenFile string
}

// udpConfig is what udp needs.
type udpConfig struct {
	Addr     string // HOST:PORT
	Message  string
	Count    int
	Interval time.Duration
	Timeout  time.Duration // for each reply
}

// resolveConfig is what resolve needs.
type resolveConfig struct {
	Name string
	Type string // a key of lookups: A, AAAA, SRV, CNAME or PTR
	// Server, HOST:PORT, gets every query instead of resolv.conf's
	// nameservers; empty for those.
	Server  string
	Timeout time.Duration // for the whole lookup, every search domain included
}

func parseServeFlags(args []string, getenv func(string) string) (serveConfig, error) {
	fs := newFlagSet("serve")
	httpPort := fs.Int("http-port", 8080, "HTTP port")
	echoPort := fs.Int("echo-port", 9000, "TCP and UDP echo port")
	termDelay := fs.Duration("term-delay", 0, "keep serving this long after SIGTERM")
	readyDelay := fs.Duration("ready-delay", 0, "answer 503 on /ready this long after start")
	if err := setFromEnv(fs, getenv); err != nil {
		return serveConfig{}, err
	}
	if err := fs.Parse(args); err != nil {
		return serveConfig{}, err
	}
	if fs.NArg() > 0 {
		return serveConfig{}, fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	for _, p := range []int{*httpPort, *echoPort} {
		if p < 0 || p > 65535 {
			return serveConfig{}, fmt.Errorf("port %d out of range", p)
		}
	}
	return serveConfig{
		HTTPAddr:   fmt.Sprintf(":%d", *httpPort),
		EchoAddr:   fmt.Sprintf(":%d", *echoPort),
		TermDelay:  *termDelay,
		ReadyDelay: *readyDelay,
	}, nil
}

func parseGetFlags(args []string) (getConfig, error) {
	fs := newFlagSet("get")
	timeout := fs.Duration("timeout", 5*time.Second, "give up on a request after this long")
	count := fs.Int("count", 1, "make this many requests")
	interval := fs.Duration("interval", 0, "wait this long between requests")
	insecure := fs.Bool("insecure", false, "do not check an HTTPS server's certificate")
	tokenFile := fs.String("bearer-token-file", "", "send the token in this file as Authorization: Bearer")
	if err := fs.Parse(args); err != nil {
		return getConfig{}, err
	}
	if fs.NArg() != 1 {
		return getConfig{}, fmt.Errorf("get takes one URL, got %d arguments", fs.NArg())
	}
	if err := checkRepeat(*count, *interval); err != nil {
		return getConfig{}, err
	}
	u, err := normalizeURL(fs.Arg(0))
	if err != nil {
		return getConfig{}, err
	}
	return getConfig{URL: u, Timeout: *timeout, Count: *count, Interval: *interval, Insecure: *insecure, TokenFile: *tokenFile}, nil
}

func parseUDPFlags(args []string) (udpConfig, error) {
	fs := newFlagSet("udp")
	timeout := fs.Duration("timeout", 2*time.Second, "wait this long for each reply")
	count := fs.Int("count", 1, "send this many datagrams")
	interval := fs.Duration("interval", 0, "wait this long between datagrams")
	if err := fs.Parse(args); err != nil {
		return udpConfig{}, err
	}
	if fs.NArg() != 2 {
		return udpConfig{}, fmt.Errorf("udp takes HOST:PORT and MESSAGE, got %d arguments", fs.NArg())
	}
	if err := checkRepeat(*count, *interval); err != nil {
		return udpConfig{}, err
	}
	if *timeout <= 0 {
		return udpConfig{}, fmt.Errorf("--timeout must be positive, got %s", *timeout)
	}
	if host, port, err := net.SplitHostPort(fs.Arg(0)); err != nil || host == "" || port == "" {
		return udpConfig{}, fmt.Errorf("udp address %q is not HOST:PORT", fs.Arg(0))
	}
	return udpConfig{Addr: fs.Arg(0), Message: fs.Arg(1), Count: *count, Interval: *interval, Timeout: *timeout}, nil
}

func parseResolveFlags(args []string) (resolveConfig, error) {
	fs := newFlagSet("resolve")
	typ := fs.String("type", "A", "record type: "+strings.Join(lookupTypes(), ", "))
	timeout := fs.Duration("timeout", 2*time.Second, "give up on the lookup after this long")
	server := fs.String("server", "", "ask this DNS server, HOST:PORT, instead of resolv.conf's")
	if err := fs.Parse(args); err != nil {
		return resolveConfig{}, err
	}
	if fs.NArg() != 1 || fs.Arg(0) == "" {
		return resolveConfig{}, fmt.Errorf("resolve takes one NAME, got %q", fs.Args())
	}
	cfg := resolveConfig{Name: fs.Arg(0), Type: strings.ToUpper(*typ), Server: *server, Timeout: *timeout}
	if err := checkResolve(cfg); err != nil {
		return resolveConfig{}, err
	}
	return cfg, nil
}

func checkResolve(cfg resolveConfig) error {
	if _, ok := lookups[cfg.Type]; !ok {
		return fmt.Errorf("unknown --type %q, want one of %s", cfg.Type, strings.Join(lookupTypes(), ", "))
	}
	if cfg.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive, got %s", cfg.Timeout)
	}
	if cfg.Server != "" {
		if host, port, err := net.SplitHostPort(cfg.Server); err != nil || host == "" || port == "" {
			return fmt.Errorf("--server %q is not HOST:PORT", cfg.Server)
		}
	}
	if _, err := netip.ParseAddr(cfg.Name); cfg.Type == "PTR" && err != nil {
		return fmt.Errorf("--type PTR takes an IP address, got %q", cfg.Name)
	}
	return nil
}

// checkRepeat checks the flags that get and udp share.
func checkRepeat(count int, interval time.Duration) error {
	if count < 1 {
		return fmt.Errorf("--count must be at least 1, got %d", count)
	}
	if interval < 0 {
		return fmt.Errorf("--interval must not be negative, got %s", interval)
	}
	return nil
}

// normalizeURL accepts "10.96.0.10:8080/hostname" as well as a full URL.
func normalizeURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("parse URL %q: %w", s, err)
	}
	if u.Host == "" {
		return "", fmt.Errorf("URL %q has no host", s)
	}
	return u.String(), nil
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// Errors are returned and printed once, by flagExit.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// setFromEnv gives every flag the value of $TESTAPP_<FLAG> if set; the
// command line still overrides it.
func setFromEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		key := "TESTAPP_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(key); v != "" && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("$%s=%q: %w", key, v, e)
			}
		}
	})
	return err
}

// flagExit turns a flag error into an exit status: help is success.
func flagExit(err error, stdout, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "testapp: %v\n%s", err, usage)
	return 2
}
