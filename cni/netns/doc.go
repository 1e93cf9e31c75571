// Package netns is the only package in kinns that moves an OS thread into another
// network namespace. It is a leaf (it imports nothing of kinns) below every
// component that works in a namespace: the harness, the CNI, the kubelet. Everything else works through what it hands out: netlink
// handles bound to a namespace, commands started inside one, or a function run on a
// thread that is locked inside one.
//
// Named namespaces live at /run/netns/<name>, exactly where `ip netns` keeps them,
// so a person can inspect a lab with `ip netns exec`.
//
//	if err := netns.Create("kinns-node-1"); err != nil { ... }
//	h, err := netns.Handle(netns.Path("kinns-node-1"))   // netlink in that namespace
//	cmd := exec.Command("ping", "-c1", "10.89.0.23")
//	err = netns.Start(netns.Path("kinns-node-1"), cmd)    // the process lives there
//	err = netns.Delete("kinns-node-1")
//
// Contract: a thread is only ever unlocked after it was switched back to the
// namespace it came from. If switching back fails, the goroutine exits still locked
// and the Go runtime throws the thread away.
package netns
