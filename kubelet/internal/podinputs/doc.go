// Package podinputs is everything a pod's containers are given, in one
// place: what the pod worker asks for when it starts a container
// (ContainerSpec) and when it makes the pod's sandbox (WritePodFiles).
//
//   - Environment (env.go): envFrom, then env with $(VAR) expanded; values
//     from ConfigMaps, Secrets, the downward API (pod fields, container
//     resources); Docker-links service variables last, from a Service
//     informer (WatchServices).
//
//   - Volumes (volumes.go): emptyDir, hostPath, configMap, secret,
//     downwardAPI and projected ones (configMap, secret, downwardAPI and
//     serviceAccountToken sources), each file with the volume's defaultMode
//     or its item's mode (projection.go). Files are written from the API
//     each time a container starts, and by RefreshVolumes while it runs,
//     all at once through upstream's AtomicWriter (the ..data link swap). The projected service-account token comes from the
//     token manager (kubelet/internal/tokens): from the TokenRequest API,
//     bound to the pod, for the projection's expirationSeconds (3607 s when
//     unset), and kept until due; RefreshTokens, called on every sync of a
//     running pod, rewrites a projected volume in place once its token is
//     due (80 % of its lifetime, or TokenMaxAge). Other volume kinds are
//     left out, with a log line.
//
//   - Security (security.go, ownership.go): the container's securityContext
//     over the pod's, as a runtime.Security; runAsNonRoot refused with the
//     upstream kubelet's message; fsGroup given to emptyDir (once, when it
//     is made), configMap, secret, downwardAPI and projected volumes, with
//     the kubelet's modes (group rw or r, setgid folders).
//
//   - Termination logs (termination.go): an empty, world-writable file per
//     run at the container's terminationMessagePath (TerminationLogPath).
//
//   - Pod files (podfiles.go): /etc/hosts as upstream's (the node's for
//     hostNetwork pods), /etc/resolv.conf by dnsPolicy
//     (the cluster DNS, the node's, or dnsConfig alone) and /etc/hostname,
//     written into the sandbox's folder and mounted into every container.
//
//   - The layout of a pod's folders: PodDir, PodLogDir, LogPath, PodCgroup.
//
//     in := podinputs.New(cfg, client)
//     stop, err := in.WatchServices(ctx)
//     err = in.WritePodFiles(pod, sb)
//     spec, err := in.ContainerSpec(ctx, pod, sb, podinputs.Run{Container: c, Attempt: 0, Image: img})
//     err = in.RefreshTokens(ctx, pod) // on each sync while it runs
//     err = in.RefreshVolumes(ctx, pod) // every SyncInterval while it runs
//     in.ForgetPod(pod.UID)            // once it is gone
package podinputs
