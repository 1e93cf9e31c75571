// Package forward relays TCP connections from a listener to a fixed target. It is
// the one way into a lab from the host: the lab's supervisor opens a listener on
// 127.0.0.1 in the host's namespace and hands it to a forwarder process that runs
// inside a lab host, where the target address is reachable. No route, address or
// rule is added to the host.
//
//	ln, _ := net.Listen("tcp", "127.0.0.1:0")  // in the host namespace
//	err := forward.Serve(ctx, ln, "10.89.0.11:6443", log) // in the lab host's process
package forward
