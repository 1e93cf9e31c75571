package server

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
)

// loopback is an in-process net.Listener whose connections are kernel
// socket pairs: nothing listens on any address of the node, and each side
// has real socket buffers (net.Pipe's unbuffered writes could stall the
// SPDY and websocket copiers that run across it).
type loopback struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func newLoopback() *loopback {
	return &loopback{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// Accept returns the server end of the next dialled connection.
func (l *loopback) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and DialContext.
func (l *loopback) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

// Addr names the loopback; it has no network address.
func (l *loopback) Addr() net.Addr { return loopbackAddr{} }

// DialContext connects to the loopback's server, whatever address is asked.
func (l *loopback) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server, err := socketPair()
	if err != nil {
		return nil, err
	}
	select {
	case l.conns <- server:
		return client, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-l.closed:
		err = net.ErrClosed
	}
	client.Close()
	server.Close()
	return nil, fmt.Errorf("dial kubelet loopback: %w", err)
}

func socketPair() (net.Conn, net.Conn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("make socket pair: %w", err)
	}
	a, errA := fileConn(fds[0])
	b, errB := fileConn(fds[1])
	if errA != nil || errB != nil {
		for _, c := range []net.Conn{a, b} {
			if c != nil {
				c.Close()
			}
		}
		return nil, nil, fmt.Errorf("make socket pair: %v %v", errA, errB)
	}
	return a, b, nil
}

// fileConn wraps fd in a net.Conn; the fd itself is always closed (FileConn dups it).
func fileConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "kubelet-loopback")
	defer f.Close()
	return net.FileConn(f)
}

type loopbackAddr struct{}

func (loopbackAddr) Network() string { return "loopback" }
func (loopbackAddr) String() string  { return "kubelet-loopback" }
