package forward

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Serve accepts on ln until ctx is done and relays each connection to target.
func Serve(ctx context.Context, ln net.Listener, target string, log *slog.Logger) error {
	return serve(ctx, ln, func() []string { return []string{target} }, nil, log)
}

// serve relays each connection to the first of pick()'s targets that
// answers.
func serve(ctx context.Context, ln net.Listener, pick func() []string, conns *tracker, log *slog.Logger) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			relay(ctx, c, pick(), conns, log)
		}()
	}
}

func relay(ctx context.Context, c net.Conn, targets []string, conns *tracker, log *slog.Logger) {
	defer c.Close()
	t, err := dialFirst(ctx, targets)
	if err != nil {
		log.Warn("cannot reach a target", "targets", targets, "err", err)
		return
	}
	defer t.Close()
	defer conns.add(t.RemoteAddr().String(), c, t)()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite() // pass the half-close on
		}
		done <- struct{}{}
	}
	go pipe(t, c)
	go pipe(c, t)
	// Both halves, or the end of ctx: a half-closed connection whose other
	// side never closes must not hold Serve past its context.
	for range 2 {
		select {
		case <-done:
		case <-ctx.Done():
			return
		}
	}
}

// dialFirst connects to the first target that takes the connection.
func dialFirst(ctx context.Context, targets []string) (net.Conn, error) {
	var errs []error
	for _, target := range targets {
		d := net.Dialer{Timeout: 5 * time.Second / time.Duration(len(targets))}
		t, err := d.DialContext(ctx, "tcp", target)
		if err == nil {
			return t, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, errors.New("no target")
	}
	return nil, errors.Join(errs...)
}

// tracker knows the relayed connections by target, so that a balancer
// can cut those of a target it takes out of rotation. A nil tracker
// tracks nothing.
type tracker struct {
	mu    sync.Mutex
	conns map[string]map[net.Conn]net.Conn // target -> client side -> target side
}

// add records a relayed connection and returns what forgets it.
func (t *tracker) add(target string, client, server net.Conn) func() {
	if t == nil {
		return func() {}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conns == nil {
		t.conns = map[string]map[net.Conn]net.Conn{}
	}
	if t.conns[target] == nil {
		t.conns[target] = map[net.Conn]net.Conn{}
	}
	t.conns[target][client] = server
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		delete(t.conns[target], client)
	}
}

// cut closes every connection relayed to target: their clients see them
// end at once and connect again, through the balancer, to another target,
// instead of waiting on a target that no longer answers.
func (t *tracker) cut(target string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for client, server := range t.conns[target] {
		client.Close()
		server.Close()
		n++
	}
	return n
}
