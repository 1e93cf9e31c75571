package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestGetPrintsBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("pod-b"))
	}))
	defer srv.Close()
	var out bytes.Buffer
	if err := get(context.Background(), getConfig{URL: srv.URL, Timeout: time.Second}, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "pod-b" {
		t.Fatalf("printed %q, want pod-b", out.String())
	}
}

func TestGetFailsOnServerError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "failing", http.StatusInternalServerError)
	}))
	defer srv.Close()
	var out bytes.Buffer
	err := get(context.Background(), getConfig{URL: srv.URL, Timeout: time.Second}, &out)
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("error %v, want one naming the 500", err)
	}
	if !strings.Contains(out.String(), "failing") {
		t.Fatalf("printed %q, want the error body", out.String())
	}
}

func TestGetFailsClearlyWhenRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	err := get(context.Background(), getConfig{URL: "http://" + addr + "/", Timeout: time.Second}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "connection refused") || strings.Count(err.Error(), addr) != 2 {
		t.Fatalf("error %v, want one naming the URL once and the refusal", err)
	}
}

func TestGetTimesOut(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	start := time.Now()
	err := get(context.Background(), getConfig{URL: srv.URL, Timeout: 200 * time.Millisecond}, &bytes.Buffer{})
	if err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("error %v after %s, want a timeout after 200ms", err, time.Since(start))
	}
}

func TestGetCountPrintsEachBodyOnALineAndGoesOnAfterAFailure(t *testing.T) {
	var n atomic.Int32
	clients := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clients <- r.RemoteAddr
		switch n.Add(1) {
		case 1:
			w.Write([]byte("pod-a"))
		case 2:
			http.Error(w, "failing", http.StatusInternalServerError)
		default:
			w.Write([]byte("pod-c\n"))
		}
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"get", "--count", "3", srv.URL}, &out, &errOut)
	want := "pod-a\nerror: get " + srv.URL + ": server answered 500 Internal Server Error\npod-c\n"
	if code != 1 || out.String() != want {
		t.Fatalf("exit %d, printed %q; want 1 and %q", code, out.String(), want)
	}
	if !strings.Contains(errOut.String(), "1 of 3 failed") {
		t.Errorf("stderr %q, want the tally", errOut.String())
	}
	// A new connection each time, so a Service may pick a new backend each time.
	if a, b, c := <-clients, <-clients, <-clients; a == b || b == c || a == c {
		t.Errorf("requests came from %s, %s, %s; want three connections", a, b, c)
	}

	out.Reset()
	if code := run(context.Background(), []string{"get", "--count", "2", srv.URL}, &out, &errOut); code != 0 || out.String() != "pod-c\npod-c\n" {
		t.Errorf("two good answers: exit %d, printed %q", code, out.String())
	}
}

func TestGetCountOnePrintsTheBodyAsItIs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("pod-b"))
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"get", "--count", "1", srv.URL}, &out, &errOut); code != 0 || out.String() != "pod-b" {
		t.Fatalf("exit %d, printed %q; want 0 and \"pod-b\" with no newline", code, out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"get", "127.0.0.1:1/"}, &out, &errOut); code != 1 || out.Len() != 0 || !strings.Contains(errOut.String(), "testapp: get") {
		t.Fatalf("refused: exit %d, stdout %q, stderr %q; want 1, nothing, the error", code, out.String(), errOut.String())
	}
}

func TestGetSendsTheTokenFile(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.Header.Get("Authorization")))
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "token")
	for _, tok := range []string{"first\n", "second"} {
		os.WriteFile(file, []byte(tok), 0o600)
		var out bytes.Buffer
		if err := get(context.Background(), getConfig{URL: srv.URL, Timeout: time.Second, TokenFile: file}, &out); err != nil {
			t.Fatal(err)
		}
		if want := "Bearer " + strings.TrimSpace(tok); out.String() != want {
			t.Errorf("sent %q, want %q", out.String(), want)
		}
	}
	err := get(context.Background(), getConfig{URL: srv.URL, Timeout: time.Second, TokenFile: file + ".missing"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "bearer token") {
		t.Errorf("a missing token file: %v", err)
	}
}
