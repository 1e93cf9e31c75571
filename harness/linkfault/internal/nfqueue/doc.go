// Package nfqueue speaks the kernel's NFQUEUE protocol (nfnetlink, subsystem
// NFNL_SUBSYS_QUEUE) over a netlink socket, just enough to hold packets and let
// them go: bind a queue in metadata mode, read the ids of queued packets, give
// them ACCEPT verdicts, unbind. The socket lives in the network namespace of
// the thread that opens it.
//
//	c, err := nfqueue.Open(2711)
//	defer c.Close()
//	err = c.Bind(4096)
//	ids, err := c.Read()          // packets now held by the kernel
//	err = c.Accept(ids)           // and released
//	err = c.Unbind()
package nfqueue
