// Package pods is the kubelet's pod worker: it runs the pods bound to one
// node. The Manager watches them (spec.nodeName) and gives each a worker
// that syncs it, level-based, on every event, container exit, probe
// verdict, end of a backoff and every SyncInterval:
//
//   - admission.go, admit.go: before anything runs, a new pod is admitted
//     against the pods admitted before it, one admission at a time, with
//     upstream's general predicates (admit: resources, node affinity, node
//     name, host ports, NoExecute taints); a rejected pod is Failed with
//     upstream's reason (NodePorts, OutOfcpu, …) and "Pod was rejected: …".
//     A pod already Running (a kubelet restart) is kept.
//   - sync.go: a live pod gets its sandbox (sandbox.go), then init
//     containers one at a time, then every container (start.go: image,
//     spec from package podinputs, runtime); ephemeral containers once each,
//     never restarted (in their target's process namespace, if named); a
//     deleted pod is stopped with
//     its grace period, its final status reported, its network freed and
//     the final delete made (grace 0, UID precondition); a finished pod is
//     stopped and freed; a pod the API no longer has is removed with its
//     files and logs.
//   - decide.go, status.go, conditions.go, backoff.go: the pod logic as
//     pure functions: which containers to start and kill (decide), the
//     status to report (podStatus), and the CrashLoopBackOff spacing of
//     restarts (restartBackoff). report.go patches the status subresource.
//   - allocation.go, allocate.go, resize.go: in-place resize. Each sync
//     first runs the pod with its allocation (what the kubelet admitted,
//     kept in <PodDir>/allocated.json); a resize of the spec is admitted
//     when it fits the node's allocatable beside the other pods'
//     allocations (admitResize, else PodResizePending Infeasible or
//     Deferred). decide then plans, for each running run whose recorded
//     cgroup limits differ, an update in place (runtime Update) or a
//     restart per the container's resizePolicy; the status shows
//     PodResizeInProgress until the runs hold their allocation.
//   - probes.go: liveness, readiness and startup probes (package probe),
//     one goroutine per running run.
//   - provider.go: the kubelet server's Provider (logs, exec,
//     port-forward).
//
// A pod's network namespace is made in ensureSandbox (sandbox.go): its name
// is NetnsName(PodNetnsPrefix, uid), recorded with package records before
// Network.Add (cni's Plugin) makes it, with the pod's host ports
// (portMappings); hostNetwork pods use the node's.
//
// After a kubelet restart the runtime's records say which runs belong to
// which pod, and the records which namespaces were made, so housekeeping
// adopts what still runs and removes what belongs to pods that are gone.
//
//	m := pods.New(cfg, pods.Deps{Client: client, Runtime: rt, Network: net})
//	err := m.Run(ctx) // until ctx ends; containers keep running
package pods
