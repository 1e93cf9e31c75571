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
	return serve(ctx, ln, func() []string { return []string{target} }, log)
}

// serve relays each connection to the first of pick()'s targets that
// answers.
func serve(ctx context.Context, ln net.Listener, pick func() []string, log *slog.Logger) error {
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
			relay(ctx, c, pick(), log)
		}()
	}
}

func relay(ctx context.Context, c net.Conn, targets []string, log *slog.Logger) {
	defer c.Close()
	t, err := dialFirst(ctx, targets)
	if err != nil {
		log.Warn("cannot reach a target", "targets", targets, "err", err)
		return
	}
	defer t.Close()
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
	select {
	case <-done:
		<-done
	case <-ctx.Done():
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
