// Package containerd is the kubelet's runtime.Runtime on containerd (a 1.6
// daemon, through the v2 Go client), one containerd namespace per node.
//
// Every run of a container is its own containerd container (ID
// runtime.Spec.ID, "<pod>_<container>_<uid hash>_<attempt>") and task, in
// the overlayfs snapshotter, joined to the pod's network namespace, in the
// cgroup the Spec names (cgroupfs paths work on cgroups v1 and v2 alike),
// with the image's entrypoint and cmd replaced as Kubernetes says, and
// confined as its runtime.Security says (security.go: the CRI plugin's
// options and their order, containerd's oci and contrib/seccomp). Its
// labels (runtime.Label…) carry the pod, the container, the attempt and,
// once it ends, how it ended: exit code, reason (Completed, Error,
// OOMKilled, StartError) and times. So a restarted kubelet rebuilds
// everything from containerd alone.
//
// Output goes through pipes in Config.FIFODir to a LogSink (kubelet/logs'
// Writer) read in this process; the shim keeps the pipes open when the
// process goes, and Recover attaches a new one to them. While no kubelet
// reads, output waits in the pipe (64 KiB), then writes block.
//
//	rt, err := containerd.New(containerd.Config{
//		Address: "/run/kinns/containerd/containerd.sock", Namespace: "kinns-node-1",
//		FIFODir: "/var/lib/kinns/labs/kinns/node-1/fifo",
//		OpenLog: func(p string) (containerd.LogSink, error) { return logs.Create(p) },
//		OnExit:  func(c runtime.Container) { kick(c.Pod.UID) },
//	})
//	adopted, err := rt.Recover(ctx) // runs a previous kubelet left
//	img, err := rt.EnsureImage(ctx, "kinns.local/testapp:latest", runtime.PullIfNotPresent)
//	run, err := rt.Start(ctx, spec) // then Stop, List, Remove as runtime.Runtime says
//	rt.Close()                      // containers keep running
package containerd
