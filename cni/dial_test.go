package cni

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kinns/kinns/cni/netns"
)

// A process in a namespace with no way out reaches the host's loopback
// through a Dialer on the host's namespace, and a Dialer on its own
// namespace cannot: the socket lives where it was made.
func TestDialerThroughAnotherNamespace(t *testing.T) {
	name := randomPrefix(t) + "-dial"
	if err := netns.Create(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netns.Delete(name) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	host, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	empty, err := os.Open(netns.Path(name))
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// From a thread inside the empty namespace, as the kubelet in its node's.
	err = netns.Do(netns.Path(name), func() error {
		c, err := netns.NewDialer(host).DialContext(ctx, "tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		return err
	})
	if err != nil {
		t.Fatalf("through the host's namespace: %v", err)
	}
	_, err = netns.NewDialer(empty).DialContext(ctx, "tcp", ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("through the empty namespace: %v, want network unreachable", err)
	}
	// Names resolve through the dialer's namespace too: localhost from /etc/hosts.
	c, err := netns.NewDialer(host).DialContext(ctx, "tcp", strings.Replace(ln.Addr().String(), "127.0.0.1", "localhost", 1))
	if err != nil {
		t.Fatalf("by name: %v", err)
	}
	c.Close()
}
