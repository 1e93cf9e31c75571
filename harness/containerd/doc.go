// Package containerd runs the one containerd daemon that every lab on the host
// shares, and manages the per-node containerd namespaces inside it.
//
// The daemon is the system's containerd binary with a root, state, socket and
// config of its own, so it never touches a system containerd. It is started by the
// first lab that needs it, detached from that lab, and stopped when the last lab
// that holds it releases it. Holders are files named after their lab, each naming
// the process that holds it; a holder whose process died is stale and ignored.
//
//	d := containerd.Daemon{Root: "/var/lib/kinns/containerd", RunDir: "/run/kinns/containerd"}
//	addr, err := d.Acquire(ctx, "lab-kinns", supervisorID)
//	err = containerd.CreateNamespace(ctx, addr, "kinns-node-1", labels)
//	...
//	err = containerd.DeleteNamespace(ctx, addr, "kinns-node-1")
//	err = d.Release(ctx, "lab-kinns")
package containerd
