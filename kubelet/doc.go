// Package kubelet is kinns' node agent: one process per node, living in the
// node's network namespace, that runs the pods bound to its node on the
// shared containerd and reports them to the API.
//
// What it does, in Kubernetes' terms:
//
//   - Registers its Node (the node's own capacity and allocatable from
//     Config, InternalIP and Hostname addresses, pod CIDR, standard labels,
//     kubelet endpoint 10250, node info), renews its Lease in
//     kube-node-lease every LeaseRenewInterval and patches Ready,
//     MemoryPressure, DiskPressure and PIDPressure every
//     StatusUpdateFrequency. Ready is False while containerd or the pod
//     network is not usable.
//   - Watches the pods bound to it (spec.nodeName) and gives each a worker
//     that syncs it, level-based, on every event: a network namespace from
//     package cni, then init containers one at a time, then every container,
//     each a containerd container and task joined to that namespace, in a
//     cgroup below CgroupParent, its output in CRI log files (package logs).
//   - Restarts containers by restartPolicy with CrashLoopBackOff backoff,
//     runs liveness, readiness and startup probes (package probe), and
//     patches the pod's status subresource: phase, conditions, IPs,
//     container states, restart counts.
//   - On deletion, stops containers with the grace period (SIGTERM or the
//     image's stop signal, then SIGKILL), frees the network and makes the
//     final delete with grace period 0 and the pod's UID as precondition.
//     Whatever belongs to pods the API no longer has is removed, at start
//     and every SyncInterval. Each pod's namespace is recorded in the
//     kubelet's StateDir (package records) before it is made; PodNetns and
//     PodNetnsOf read those records (the harness's teardown and
//     `lab exec pod/…` use them).
//   - Adopts, after a restart, the containers a previous kubelet left
//     running: containerd labels tell which pod, container and restart count
//     each is; their output is reattached to their log files.
//   - Serves the kubelet API (package server) for logs, exec and
//     port-forward; the pods' Manager is its Provider.
//
// Where things live (each folder has a doc.go):
//
//   - config: Config, Timings, TimingsFor, Version, the profiles; a leaf the
//     harness imports without linking the kubelet. This package aliases them.
//   - records: the records of the pod network namespaces the kubelet made
//     (PodNetns and PodNetnsOf here read them); a leaf too.
//   - internal/node: the node agent (registration, Lease, conditions).
//   - internal/pods: the pod worker: a worker per pod, sync, sandboxes,
//     decide and podStatus as pure functions, backoff, probes, the server's
//     Provider. A pod's network namespace is made there, in ensureSandbox.
//   - internal/podinputs: what containers are given: environment, volumes
//     and their sources, pod files (hosts, resolv.conf, hostname), the
//     runtime Spec of a run.
//   - runtime: the Runtime interface and its neutral types;
//     runtime/containerd the implementation on containerd.
//   - logs, probe, server: CRI log files, probe runs, the kubelet API.
//   - This package: Run, which wires them on the real containerd and cni.
//
// Pods get their resolv.conf by dnsPolicy (ClusterDNS, ClusterDomain), an
// /etc/hosts as upstream writes it (the node's for hostNetwork pods),
// service environment variables, and emptyDir, hostPath, configMap, secret,
// downwardAPI and projected volumes (the bound service-account token
// included), their files with defaultMode and items' modes. Those files are
// written when a container starts and rewritten from the API every
// SyncInterval (at once when the pod's labels or annotations change) while
// it runs. Each run gets a termination log at terminationMessagePath, read
// into its terminated state (FallbackToLogsOnError: the log's tail), and a
// pod past its activeDeadlineSeconds is stopped and Failed
// (DeadlineExceeded). postStart and preStop hooks (exec, httpGet, sleep)
// run as upstream's (hooks.go in internal/pods).
//
// A container's securityContext (over its pod's) is resolved in
// internal/podinputs (security.go: user and groups, runAsNonRoot checked
// against the image's user, seccomp; ownership.go: fsGroup on volumes) and
// turned into containerd spec options in runtime/containerd (security.go),
// in the order containerd's CRI plugin applies them. As there, a container
// has no seccomp filter and may gain privileges unless asked otherwise.
// The pod's sysctls are set in each container's linux.sysctl: net.* in the
// pod's network namespace, IPC ones (kernel.shm_rmid_forced…) in the
// container's own IPC namespace (each container has its own IPC and UTS
// namespaces here, where upstream's share the sandbox's, so the same values
// are set in each). A new pod asking for a sysctl that is neither safe
// (upstream's list) nor in Config.AllowedUnsafeSysctls is refused: Failed,
// reason SysctlForbidden, as upstream's kubelet admission. AppArmor,
// procMount, SELinux, user namespaces, hostIPC and hostPID are not applied.
//
// Images (internal/images) follow upstream's pull policies, pull secrets and
// events, pulled through the host's network namespace (Config.HostNetnsFD);
// the one difference is the lab's own store, kinns.local, which has no
// registry: its images are used when present whatever the policy.
// Image volumes (volumes.image, KEP-4639) are pulled the same way, by the
// volume's pullPolicy, before the containers that mount them start (a failed
// pull: ErrImagePull, ImagePullBackOff); the runtime mounts a read-only
// snapshot View of the image's layers on <pod>/volumes/image/<volume> in the
// state folder, which is bind-mounted read-only (subPath: a folder inside
// the image) and unmounted, its view removed, when the pod goes; a restarted
// kubelet removes the views of pods whose folder is gone.
//
// Known differences from the upstream kubelet: a missing resource limit in the downward API is the
// request (or 1), not the node's allocatable; no static pods, no evictions;
// containers' statuses do not show an image volume's digest
// (volumeMounts[].volumeStatus.image).
//
// Example, as `lab component kubelet` runs it inside node-1's namespace:
//
//	cfg := kubelet.Config{
//		Kubeconfig: "/var/lib/kinns/labs/kinns/config/node-1.kubeconfig",
//		NodeName:   "node-1", NodeIP: "10.89.0.21", PodCIDR: "10.244.1.0/24",
//		ContainerdAddress:   "/run/kinns/containerd/containerd.sock",
//		ContainerdNamespace: "kinns-node-1", // also the node's netns name
//		CgroupParent:        "/kinns/kinns/node-1",
//		StateDir:            "/var/lib/kinns/labs/kinns/node-1",
//		LogDir:              "/var/lib/kinns/labs/kinns/node-1/pods",
//		Capacity: v1.ResourceList{"cpu": resource.MustParse("2"),
//			"memory": resource.MustParse("4Gi"), "pods": resource.MustParse("110")},
//		Reserved: v1.ResourceList{"cpu": resource.MustParse("100m"), "memory": resource.MustParse("256Mi")},
//		Timings:  kubelet.TimingsFor(kubelet.ProfileFast),
//		ServerCertFile: paths.KubeletCert("node-1"), ServerKeyFile: paths.KubeletKey("node-1"),
//		ClientCAFile:   paths.CACert(),
//		Log:            log.With("component", "kubelet", "node", "node-1"),
//	}
//	err := kubelet.Run(ctx, cfg) // until ctx ends; containers keep running
package kubelet
