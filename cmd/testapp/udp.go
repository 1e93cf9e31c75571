package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// maxDatagram holds the largest UDP payload.
const maxDatagram = 64 * 1024

func runUDP(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseUDPFlags(args)
	if err != nil {
		return flagExit(err, stdout, stderr)
	}
	// One connected socket for the whole run: every datagram leaves from the
	// same local port, so conntrack sees one flow, as a long-lived UDP client
	// makes it; and the kernel passes on replies from that peer only.
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	conn, err := new(net.Dialer).DialContext(dctx, "udp", cfg.Addr)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "testapp: udp %s: %v\n", cfg.Addr, err)
		return 1
	}
	defer conn.Close()
	// Closing the socket ends a wait for a reply; exchange then names ctx's end.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	failed := repeat(ctx, cfg.Count, cfg.Interval, stdout, func(ctx context.Context) ([]byte, error) {
		return exchange(ctx, conn, cfg)
	})
	return repeatStatus("udp", failed, cfg.Count, stderr)
}

// exchange sends cfg.Message on c and waits up to cfg.Timeout for one reply.
func exchange(ctx context.Context, c net.Conn, cfg udpConfig) ([]byte, error) {
	if err := c.SetDeadline(time.Now().Add(cfg.Timeout)); err != nil {
		return nil, udpError(ctx, cfg, err)
	}
	if _, err := c.Write([]byte(cfg.Message)); err != nil {
		return nil, udpError(ctx, cfg, err)
	}
	buf := make([]byte, maxDatagram)
	n, err := c.Read(buf)
	if err != nil {
		return nil, udpError(ctx, cfg, err)
	}
	return buf[:n], nil
}

// udpError says why an exchange failed: ctx's end, no reply in time, or the
// socket's error (an ICMP error such as "connection refused" included), with
// the address once instead of net.OpError's socket pair.
func udpError(ctx context.Context, cfg udpConfig, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("udp %s: %w", cfg.Addr, context.Cause(ctx))
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("udp %s: no reply within %s", cfg.Addr, cfg.Timeout)
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	return fmt.Errorf("udp %s: %w", cfg.Addr, err)
}
