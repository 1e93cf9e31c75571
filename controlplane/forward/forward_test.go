package forward

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

func TestServeRelaysBothWays(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Serve(ctx, ln, echo.Addr().String(), slog.New(slog.DiscardHandler)) }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("hello"))
	c.(*net.TCPConn).CloseWrite()
	got, _ := io.ReadAll(c)
	c.Close()
	if string(got) != "hello" {
		t.Errorf("relayed %q, want hello", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// A relay whose client has gone while its target holds the connection open
// (a half-close the target never answers) still ends when Serve's context
// does: Serve returned only once the target closed, so a balancer stopping
// with such a connection hung.
func TestServeEndsWithARelayHalfClosedByItsClient(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	accepted := make(chan net.Conn, 1)
	go func() { // takes the connection and holds it, saying nothing
		c, err := silent.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Serve(ctx, ln, silent.Addr().String(), slog.New(slog.DiscardHandler)) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	held := <-accepted
	defer held.Close()
	c.Close()
	// The client's end reaches the target as an EOF: the relay has seen it.
	if _, err := held.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("target read %v, want EOF", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended: a relay waits on its target's half")
	}
}
