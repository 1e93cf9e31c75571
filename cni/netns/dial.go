package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
)

// Dialer opens connections whose sockets are made inside the namespace held
// open as NS, whatever namespace the calling thread is in: a process living
// in one namespace reaches out through another (the kubelet, in its node's
// namespace, fetches images through the host's). Names are resolved by Go's
// own resolver from this machine's /etc/resolv.conf, its queries sent from
// sockets made in NS as well. A Dialer is safe for concurrent use.
type Dialer struct {
	NS *os.File
	// Resolver resolves host names; nil: Go's resolver dialling through NS.
	Resolver *net.Resolver
}

// NewDialer is a Dialer through ns with a resolver that dials through ns.
func NewDialer(ns *os.File) *Dialer {
	d := &Dialer{NS: ns}
	d.Resolver = &net.Resolver{PreferGo: true, Dial: d.dialAddr}
	return d
}

// DialContext connects to addr ("host:port") as net.Dialer does: the name
// is resolved, then each address is tried in turn until one answers.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip != nil {
		return d.dialAddr(ctx, network, addr)
	}
	ips, err := d.resolver().LookupIP(ctx, ipNetwork(network), host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, ip := range ips {
		c, err := d.dialAddr(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func (d *Dialer) resolver() *net.Resolver {
	if d.Resolver != nil {
		return d.Resolver
	}
	return &net.Resolver{PreferGo: true, Dial: d.dialAddr}
}

// dialAddr dials an address that needs no name resolution (an IP literal),
// on a thread inside NS: net.Dialer makes the socket on the calling
// goroutine when there is a single address to try, so it is made there.
func (d *Dialer) dialAddr(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := DoIn(d.NS, func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// ipNetwork is the LookupIP network of a dial network.
func ipNetwork(network string) string {
	switch network {
	case "tcp4", "udp4":
		return "ip4"
	case "tcp6", "udp6":
		return "ip6"
	}
	return "ip"
}
