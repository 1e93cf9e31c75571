// Package forward relays TCP connections from a listener to a fixed target. It is
// the one way into a lab from the host: the lab's supervisor opens a listener on
// 127.0.0.1 in the host's namespace and hands it to a forwarder process that runs
// inside a lab host, where the target address is reachable. No route, address or
// rule is added to the host.
//
// Its Balancer spreads connections over the targets that pass a check: the
// API balancer in front of the API servers (round robin), and each API
// server's relay to etcd (InOrder: its own host's member first). It lives
// beside the control plane, not in the harness, because the API server
// uses it.
//
//	ln, _ := net.Listen("tcp", "127.0.0.1:0")  // in the host namespace
//	err := forward.Serve(ctx, ln, "10.89.0.11:6443", log) // in the lab host's process
package forward
