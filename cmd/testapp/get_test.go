package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
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
