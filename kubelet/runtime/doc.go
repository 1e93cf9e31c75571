// Package runtime is the kubelet's view of a container runtime: the Runtime
// interface and the neutral types it speaks (Spec, Container, Image, Mount,
// Exec, the errors), with no runtime linked. The pod worker builds Specs
// and reads Containers; package containerd (below this one) is the real
// implementation, and tests use fakes in memory.
//
// Every run of a container is its own Container, with Attempt its restart
// count; Spec.ID names it, readable and unique per pod UID, container and
// attempt. The labels (LabelPodUID, LabelAttempt, LabelExitCode…) are how an
// implementation records which pod a run belongs to and how it ended, so
// that a restarted kubelet rebuilds everything from the runtime alone.
//
//	var rt runtime.Runtime = ctr // a *containerd.Containerd
//	img, err := rt.EnsureImage(ctx, "kinns.local/testapp:latest", runtime.PullIfNotPresent)
//	run, err := rt.Start(ctx, runtime.Spec{Pod: pod, Name: "app", Image: img,
//		NetnsPath: "/run/netns/kinns-node-1-0a1b2c3d4e", CgroupPath: "/kinns/kinns/node-1/pod<uid>/<id>",
//		LogPath: "/var/log/pods/default_web_<uid>/app/0.log"})
//	err = rt.Stop(ctx, run.ID, 30*time.Second) // stop signal, then SIGKILL
//	runs, err := rt.List(ctx, pod.UID)          // exited runs keep how they ended
//	err = rt.Remove(ctx, run.ID)
package runtime
