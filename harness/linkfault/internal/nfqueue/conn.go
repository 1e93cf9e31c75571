package nfqueue

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// rcvBuf is the socket's receive buffer: room for many packets' metadata, so
// a slow reader does not make the kernel drop queued packets.
const rcvBuf = 8 << 20

// Conn is one NFQUEUE socket. Read may run on one goroutine while Accept runs
// on another; Bind and Unbind must not run alongside Read.
type Conn struct {
	queue uint16
	f     *os.File
	rc    syscall.RawConn
	seq   uint32
	early []uint32 // packets seen while waiting for an ack
	buf   []byte
}

// Open makes the socket in the calling thread's network namespace.
func Open(queue uint16) (*Conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("open netfilter netlink socket: %w", err)
	}
	if err := setup(fd); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "nfqueue")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Conn{queue: queue, f: f, rc: rc, buf: make([]byte, 1<<16)}, nil
}

func setup(fd int) error {
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("bind netlink socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
	// Overruns are the kernel's to count; our reader just goes on.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_NO_ENOBUFS, 1)
	return nil
}

// Bind takes the queue: from now on the kernel holds its packets until we
// give a verdict, at most maxLen of them (more are dropped).
func (c *Conn) Bind(maxLen uint32) error {
	err := c.request(func(seq uint32) []byte { return bindMsg(seq, c.queue, maxLen) })
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("bind queue %d: another process holds it: %w", c.queue, err)
	}
	if err != nil {
		return fmt.Errorf("bind queue %d: %w", c.queue, err)
	}
	return nil
}

// Unbind gives the queue back. Packets still held are dropped by the kernel:
// accept them first.
func (c *Conn) Unbind() error {
	if err := c.request(func(seq uint32) []byte { return unbindMsg(seq, c.queue) }); err != nil {
		return fmt.Errorf("unbind queue %d: %w", c.queue, err)
	}
	return nil
}

// request sends one message and waits, up to a second, for its ack.
func (c *Conn) request(msg func(seq uint32) []byte) error {
	c.seq++
	seq := c.seq
	if err := c.write(msg(seq)); err != nil {
		return err
	}
	if err := c.f.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	defer c.f.SetReadDeadline(time.Time{})
	for {
		r, err := c.read()
		if err != nil {
			return err
		}
		c.early = append(c.early, r.ids...)
		if ack, ok := r.acks[seq]; ok {
			return ack
		}
	}
}

// Read waits for queued packets and returns their ids.
func (c *Conn) Read() ([]uint32, error) {
	if len(c.early) > 0 {
		ids := c.early
		c.early = nil
		return ids, nil
	}
	for {
		r, err := c.read()
		if err != nil {
			return nil, err
		}
		if len(r.ids) > 0 {
			return r.ids, nil
		}
	}
}

func (c *Conn) read() (received, error) {
	var n int
	var rerr error
	err := c.rc.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), c.buf, 0)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if errors.Is(err, unix.ENOBUFS) {
		return received{}, nil
	}
	if err != nil {
		return received{}, fmt.Errorf("read queue %d: %w", c.queue, err)
	}
	return parse(c.buf[:n])
}

// SetReadDeadline makes a blocked Read return os.ErrDeadlineExceeded at t.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.f.SetReadDeadline(t) }

// Accept lets the packets go on their way, in as few sends as it can.
func (c *Conn) Accept(ids []uint32) error {
	for len(ids) > 0 {
		n := min(len(ids), maxBatch)
		if err := c.write(verdictMsgs(c.queue, ids[:n])); err != nil {
			return fmt.Errorf("accept %d packets of queue %d: %w", n, c.queue, err)
		}
		ids = ids[n:]
	}
	return nil
}

// maxBatch bounds one send of verdicts (32 bytes each) well below the
// socket's send buffer.
const maxBatch = 512

func (c *Conn) write(b []byte) error {
	var werr error
	err := c.rc.Write(func(fd uintptr) bool {
		werr = unix.Sendto(int(fd), b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return werr != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	return werr
}

// Close closes the socket; the kernel unbinds whatever queue it still held.
func (c *Conn) Close() error { return c.f.Close() }
