package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	testingclock "k8s.io/utils/clock/testing"
)

func TestHTTPProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Probe") != "yes" || !strings.HasPrefix(r.UserAgent(), "kube-probe/") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/ok":
		case "/moved":
			http.Redirect(w, r, "http://elsewhere.invalid/", http.StatusFound)
		default:
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte("failing"))
		}
	}))
	defer srv.Close()
	host, portStr, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	port, _ := strconv.Atoi(portStr)
	c := &v1.Container{Ports: []v1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	for path, want := range map[string]Result{"/ok": Success, "/moved": Success, "/healthz": Failure} {
		p := &v1.Probe{ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{
			Path: path, Port: intstr.FromString("http"), HTTPHeaders: []v1.HTTPHeader{{Name: "X-Probe", Value: "yes"}},
		}}}
		got, msg := Do(context.Background(), p, Target{PodIP: host, Container: c})
		if got != want {
			t.Errorf("%s: %s (%s), want %s", path, got, msg, want)
		}
		if want == Failure && msg != "HTTP probe failed with statuscode: 500: failing" {
			t.Errorf("%s: message %q", path, msg)
		}
	}
}

func TestTCPAndExecProbes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	tcp := &v1.Probe{ProbeHandler: v1.ProbeHandler{TCPSocket: &v1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}}
	if r, msg := Do(context.Background(), tcp, Target{PodIP: "127.0.0.1"}); r != Success {
		t.Errorf("open port: %s %s", r, msg)
	}
	ln.Close()
	if r, _ := Do(context.Background(), tcp, Target{PodIP: "127.0.0.1"}); r != Failure {
		t.Errorf("closed port: %s", r)
	}

	exec := &v1.Probe{TimeoutSeconds: 1, ProbeHandler: v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"check"}}}}
	target := func(code int, delay time.Duration) Target {
		return Target{Exec: func(ctx context.Context, cmd []string) (int, []byte, error) {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			return code, []byte("out\n"), nil
		}}
	}
	if r, _ := Do(context.Background(), exec, target(0, 0)); r != Success {
		t.Errorf("exit 0: %s", r)
	}
	if r, msg := Do(context.Background(), exec, target(2, 0)); r != Failure || msg != `command "check" exited with 2: out` {
		t.Errorf("exit 2: %s %q", r, msg)
	}
	if r, msg := Do(context.Background(), exec, target(0, 3*time.Second)); r != Failure || !strings.Contains(msg, "timed out") {
		t.Errorf("slow: %s %q", r, msg)
	}
}

// TestWorkerThresholds drives a worker with a fake clock through results.
func TestWorkerThresholds(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Unix(1000, 0))
	results := make(chan Result)
	var mu sync.Mutex
	var verdicts []bool
	w := Worker{
		Probe: &v1.Probe{InitialDelaySeconds: 5, PeriodSeconds: 2, SuccessThreshold: 2, FailureThreshold: 3},
		Do:    func(ctx context.Context) (Result, string) { return <-results, "" },
		Clock: clk, StartedAt: clk.Now(),
		Report: func(ok bool, _ string) {
			mu.Lock()
			verdicts = append(verdicts, ok)
			mu.Unlock()
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	step := func(d time.Duration) {
		for !clk.HasWaiters() {
			time.Sleep(time.Millisecond)
		}
		clk.Step(d)
	}
	step(5 * time.Second) // initial delay
	for i, r := range []Result{Success, Success, Failure, Failure, Unknown, Failure, Success, Success} {
		results <- r
		if i < 7 {
			step(2 * time.Second)
		}
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	// Two successes: healthy; three failures (the unknown between them
	// counts for nothing): unhealthy; two successes: healthy again.
	if got := fmt.Sprint(verdicts); got != "[true false true]" {
		t.Errorf("verdicts %s, want [true false true]", got)
	}
}
