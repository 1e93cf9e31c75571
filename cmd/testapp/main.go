// Command testapp is the program inside kinns' built-in test image,
// kinns.local/testapp:latest. It is static and has no dependencies besides the Go
// standard library, so the image holds this one file.
//
//	testapp [serve] [flags]    HTTP on :8080, TCP and UDP echo on :9000 (the default)
//	testapp get [--count 1] [--interval 0s] [--timeout 5s] [--insecure] [--bearer-token-file F] URL
//	                           prints URL's body; exit 1 on any failure. With
//	                           --count N, makes N requests, each on a new
//	                           connection, and prints each body, or
//	                           "error: <reason>", on a line of its own
//	testapp udp [--count 1] [--interval 0s] [--timeout 2s] HOST:PORT MESSAGE
//	                           sends MESSAGE --count times from one local port
//	                           (one conntrack flow) and prints each reply, or
//	                           "error: <reason>", on a line of its own
//	testapp resolve [--type A] [--timeout 2s] [--server HOST:PORT] NAME
//	                           resolves NAME as a Go program in a pod does
//	                           (resolv.conf's nameservers, search list and
//	                           ndots) and prints the answers sorted, one a
//	                           line: addresses (A, AAAA), "PRIORITY WEIGHT PORT
//	                           TARGET" (SRV), the canonical name (CNAME) or the
//	                           names of the address NAME (PTR); else prints
//	                           "error: NXDOMAIN NAME" or "error: <reason>" and
//	                           exits 1. --server asks that server instead of
//	                           resolv.conf's nameservers
//	testapp webhook [--port 8443] [--tls-cert-file F] [--tls-key-file F] [--deny-label K[=V]] [--add-label K=V]
//	                           serves admission webhooks (/validate, /mutate)
//	                           and a CRD conversion webhook (/convert) over TLS;
//	                           with --requestheader-ca-file, the aggregated API
//	                           whoami.kinns.io/v1 too
//	testapp env                prints its environment, one VAR=value a line, sorted
//	testapp cat FILE...        prints the files (the image has no shell)
//	testapp id                 prints "uid=U gid=G groups=G1,G2" of itself
//	testapp write FILE TEXT    writes TEXT to FILE; exit 1 if it cannot
//	testapp stat PATH...       prints "PATH MODE uid=U gid=G", MODE as ls -l
//	testapp alloc MiB          takes and touches MiB mebibytes, then waits for a
//	                           signal (to hit a memory limit)
//	testapp help               prints this usage and exits 0
//
// HTTP endpoints of serve:
//
//	/hostname         $POD_NAME if set, else the host name, with no newline
//	/healthz          200 "ok"; /healthz?fail=1 makes it answer 500 until ?fail=0
//	/ready            200 "ready"; ?fail=1 / ?fail=0 as above, answering 503;
//	                  also 503 until --ready-delay has passed since start
//	/echo             the request body, or ?msg=; with ?client=1 the caller's IP.
//	                  Every answer carries X-Client-Addr (caller's ip:port) and
//	                  X-Served-By (this pod's name)
//	/exit?code=N      answers, then the process exits with status N
//
// The TCP echo sends back whatever it reads. The UDP echo answers a datagram
// that is just "hostname" (a newline after it allowed) as /hostname does, and
// sends every other datagram back as it came.
//
// On SIGTERM or SIGINT it exits 0 at once, or after --term-delay, serving all the
// while, so that tests can watch a grace period run out.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches on the mode and returns the process' exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	mode, rest := "serve", args
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		mode, rest = args[0], args[1:]
	}
	switch mode {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "get":
		return runGet(ctx, rest, stdout, stderr)
	case "udp":
		return runUDP(ctx, rest, stdout, stderr)
	case "resolve":
		return runResolve(ctx, rest, stdout, stderr)
	case "webhook":
		return runWebhook(ctx, rest, stdout, stderr)
	case "env":
		env := os.Environ()
		slices.Sort(env)
		for _, e := range env {
			fmt.Fprintln(stdout, e)
		}
		return 0
	case "cat":
		return runCat(rest, stdout, stderr)
	case "id":
		return runID(stdout, stderr)
	case "write":
		return runWrite(rest, stdout, stderr)
	case "stat":
		return runStat(rest, stdout, stderr)
	case "alloc":
		return runAlloc(ctx, rest, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "testapp: unknown mode %q\n%s", mode, usage)
		return 2
	}
}

const usage = `usage:
  testapp [serve] [--http-port 8080] [--echo-port 9000] [--term-delay 0s] [--ready-delay 0s]
      HTTP on --http-port: /hostname /healthz /ready /echo /exit?code=N
      TCP and UDP echo on --echo-port; a UDP datagram "hostname" is answered
      as /hostname answers
      defaults come from $TESTAPP_HTTP_PORT, $TESTAPP_ECHO_PORT,
      $TESTAPP_TERM_DELAY, $TESTAPP_READY_DELAY
  testapp get [--count 1] [--interval 0s] [--timeout 5s] [--insecure] [--bearer-token-file F] URL
      prints the body of URL; exit 1 on an error or a non-2xx answer.
      --bearer-token-file sends "Authorization: Bearer <F's content>", F read
      at each request (a pod's service account token, which the kubelet renews)
      --count N makes N requests, each on a new connection, --interval apart,
      and prints each body, or "error: <reason>", on a line of its own;
      exit 1 if any failed
  testapp udp [--count 1] [--interval 0s] [--timeout 2s] HOST:PORT MESSAGE
      sends MESSAGE as one datagram --count times, --interval apart, all from
      one local port, and prints each reply, or "error: <reason>" (no reply
      within --timeout, or refused), on a line of its own; exit 1 if any failed
  testapp resolve [--type A|AAAA|SRV|CNAME|PTR] [--timeout 2s] [--server HOST:PORT] NAME
      resolves NAME with Go's resolver, as a program in a pod does: the
      nameservers, search list and ndots of /etc/resolv.conf, so "web",
      "web.default" and "web.default.svc.cluster.local" all work. Prints the
      answers sorted, one a line: the addresses (A: IPv4, AAAA: IPv6);
      "PRIORITY WEIGHT PORT TARGET" for SRV, NAME being the whole name such
      as _http._tcp.web.default.svc.cluster.local; the canonical name
      (CNAME); the names of the address NAME (PTR). A name that does not
      exist prints "error: NXDOMAIN NAME" (so does one without records of the
      type, as Go reports it), any other failure "error: <reason>"; both
      exit 1. --server sends the queries to that DNS server instead of
      resolv.conf's nameservers; --timeout bounds the whole lookup
  testapp webhook [--port 8443] [--tls-cert-file /etc/webhook/tls.crt] [--tls-key-file /etc/webhook/tls.key]
                  [--deny-label KEY[=VALUE]] [--add-label KEY=VALUE] [--requestheader-ca-file F]
      serves HTTPS with the certificate and key (a kubernetes.io/tls Secret
      mounted at /etc/webhook): POST /validate answers an admission.k8s.io/v1
      AdmissionReview, denying (403) an object that has --deny-label (the old
      object for a DELETE) and allowing the rest; POST /mutate does the same
      and adds --add-label to what it allows (a JSONPatch); POST /convert
      answers an apiextensions.k8s.io/v1 ConversionReview by setting each
      object's apiVersion to the desired one and its annotation
      testapp.kinns.io/converted-from to the one it had (for custom resources
      whose versions share a schema); /healthz answers "ok". With
      --requestheader-ca-file (the front proxy CA, kube-system/extension-
      apiserver-authentication's requestheader-client-ca-file) it is also
      the aggregated API whoami.kinns.io/v1: GET /apis/whoami.kinns.io/v1/whoami
      answers the X-Remote-User and X-Remote-Group the aggregator sent, if
      it came with a certificate of that CA named front-proxy-client, else
      401. Ends on SIGTERM
  testapp env
      prints the environment, sorted
  testapp cat FILE...
      prints the files; exit 1 if one cannot be read
  testapp id
      prints its uid, gid and supplementary groups: "uid=U gid=G groups=G1,G2"
  testapp write FILE TEXT
      writes TEXT to FILE (created 0666 less the umask); exit 1 on failure
  testapp stat PATH...
      prints "PATH MODE uid=U gid=G" for each, MODE as ls -l shows it
      ("drwxrwsrwx"); exit 1 if one is missing
  testapp alloc MiB
      takes MiB mebibytes of memory and holds them until SIGTERM
  testapp help
`

// held keeps runAlloc's memory reachable.
var held [][]byte

func runAlloc(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var mib int
	if len(args) != 1 {
		fmt.Fprintf(stderr, "testapp: alloc takes one number of MiB\n%s", usage)
		return 2
	}
	if _, err := fmt.Sscan(args[0], &mib); err != nil || mib < 0 {
		fmt.Fprintf(stderr, "testapp: alloc: %q is not a number of MiB\n", args[0])
		return 2
	}
	for i := 0; i < mib; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1 // touch every page, so it counts against the limit
		}
		held = append(held, b)
	}
	fmt.Fprintf(stdout, "holding %d MiB\n", mib)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	return 0
}

func runCat(files []string, stdout, stderr io.Writer) int {
	status := 0
	for _, name := range files {
		f, err := os.Open(name)
		if err == nil {
			_, err = io.Copy(stdout, f)
			f.Close()
		}
		if err != nil {
			fmt.Fprintf(stderr, "testapp: %v\n", err)
			status = 1
		}
	}
	return status
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseServeFlags(args, os.Getenv)
	if err != nil {
		return flagExit(err, stdout, stderr)
	}
	if cfg.Hostname, err = podName(os.Getenv, os.Hostname); err != nil {
		fmt.Fprintf(stderr, "testapp: %v\n", err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ls, err := listen(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "testapp: %v\n", err)
		return 1
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	return serve(ctx, cfg, ls, log, sigs)
}

func runGet(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseGetFlags(args)
	if err != nil {
		return flagExit(err, stdout, stderr)
	}
	if cfg.Count == 1 {
		// Exactly the body, and the error on stderr, as callers have always had it.
		if err := get(ctx, cfg, stdout); err != nil {
			fmt.Fprintf(stderr, "testapp: %v\n", err)
			return 1
		}
		return 0
	}
	failed := repeat(ctx, cfg.Count, cfg.Interval, stdout, func(ctx context.Context) ([]byte, error) {
		var body bytes.Buffer
		err := get(ctx, cfg, &body)
		return body.Bytes(), err
	})
	return repeatStatus("get", failed, cfg.Count, stderr)
}
