package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// listeners are opened before serving, so that a test can bind port 0 and learn
// the ports.
type listeners struct {
	http net.Listener
	tcp  net.Listener
	udp  net.PacketConn
}

func listen(cfg serveConfig) (listeners, error) {
	h, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return listeners{}, fmt.Errorf("listen for HTTP on %s: %w", cfg.HTTPAddr, err)
	}
	t, err := net.Listen("tcp", cfg.EchoAddr)
	if err != nil {
		h.Close()
		return listeners{}, fmt.Errorf("listen for TCP echo on %s: %w", cfg.EchoAddr, err)
	}
	u, err := net.ListenPacket("udp", cfg.EchoAddr)
	if err != nil {
		h.Close()
		t.Close()
		return listeners{}, fmt.Errorf("listen for UDP echo on %s: %w", cfg.EchoAddr, err)
	}
	return listeners{http: h, tcp: t, udp: u}, nil
}

// shutdownTimeout bounds how long in-flight HTTP requests may take once the
// process was asked to end.
const shutdownTimeout = 2 * time.Second

// serve runs until /exit, a signal (after cfg.TermDelay) or ctx ends, and returns
// the exit status: /exit's code, else 0. It owns ls.
func serve(ctx context.Context, cfg serveConfig, ls listeners, log *slog.Logger, sigs <-chan os.Signal) int {
	a := newApp(cfg, time.Now, log)
	srv := &http.Server{Handler: a.routes(), ReadHeaderTimeout: 10 * time.Second}
	echoCtx, stopEcho := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ls.http); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP server failed", "err", err)
		}
	})
	wg.Go(func() { serveTCPEcho(echoCtx, ls.tcp, log) })
	wg.Go(func() { serveUDPEcho(echoCtx, ls.udp, cfg.Hostname, log) })
	log.Info("serving", "name", cfg.Hostname, "http", ls.http.Addr().String(), "echo", ls.tcp.Addr().String())

	code := waitForEnd(ctx, a.exit, sigs, cfg.TermDelay, log)

	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	// Shutdown lets the /exit answer reach its client before we go.
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	stopEcho()
	wg.Wait()
	log.Info("exiting", "code", code)
	return code
}

// waitForEnd returns the exit status once the process should end. After a
// signal it keeps serving for termDelay; further signals do not shorten that.
func waitForEnd(ctx context.Context, exit <-chan int, sigs <-chan os.Signal, termDelay time.Duration, log *slog.Logger) int {
	select {
	case code := <-exit:
		return code
	case <-ctx.Done():
		return 0
	case sig := <-sigs:
		if termDelay <= 0 {
			log.Info("signalled, exiting", "signal", sig.String())
			return 0
		}
		log.Info("signalled, serving on for the term delay", "signal", sig.String(), "delay", termDelay.String())
	}
	timer := time.NewTimer(termDelay)
	defer timer.Stop()
	for {
		select {
		case code := <-exit:
			return code
		case <-ctx.Done():
			return 0
		case <-timer.C:
			return 0
		case sig := <-sigs:
			log.Info("ignoring signal during the term delay", "signal", sig.String())
		}
	}
}

// serveTCPEcho echoes every connection until ctx ends, then closes them all.
func serveTCPEcho(ctx context.Context, ln net.Listener, log *slog.Logger) {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				log.Error("TCP echo accept failed", "err", err)
			}
			return
		}
		wg.Go(func() {
			defer c.Close()
			closeOnEnd := context.AfterFunc(ctx, func() { c.Close() })
			defer closeOnEnd()
			echoConn(c)
		})
	}
}

// echoConn writes back what it reads until the peer closes; errors are the
// peer's business.
func echoConn(c net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// serveUDPEcho answers every datagram, as udpAnswer says, until ctx ends.
func serveUDPEcho(ctx context.Context, pc net.PacketConn, hostname string, log *slog.Logger) {
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("UDP echo read failed", "err", err)
			}
			return
		}
		if _, err := pc.WriteTo(udpAnswer(buf[:n], hostname), from); err != nil {
			log.Warn("UDP echo reply failed", "to", from.String(), "err", err)
		}
	}
}

// udpAnswer is the reply to msg: hostname, as /hostname answers it, if msg is
// "hostname" or "hostname\n" (as `echo hostname | nc -u` sends it), so that a
// UDP Service test learns which backend answered; else msg itself.
func udpAnswer(msg []byte, hostname string) []byte {
	if string(bytes.TrimSuffix(msg, []byte("\n"))) == "hostname" {
		return []byte(hostname)
	}
	return msg
}
