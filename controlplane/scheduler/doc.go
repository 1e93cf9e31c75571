// Package scheduler holds the decision of kinns' scheduler: given a pending
// pod and a Snapshot of the cluster, Schedule picks the node the pod should
// be bound to, or explains in kube-scheduler's words why none fits.
//
// The decision is a pure function: no clock, no randomness, no API calls.
// Watching pods, binding them through pods/binding, emitting events and
// retrying belong to the caller, which keeps a Snapshot up to date with
// SetNode, RemoveNode, AddPod, Assume and RemovePod instead of listing the
// cluster for every pod. Run is that caller: the scheduler component.
//
// # Running the scheduler
//
// Run watches nodes, pods and namespaces through shared informers, decides
// pending pods one at a time on a Snapshot kept current by informer events
// and by pods assumed while their binding is under way (so a burst of
// replicas spreads before the watch shows the first bindings), and binds
// through pods/binding from a pool of workers. A pod that fits nowhere gets
// PodScheduled=False, reason Unschedulable, with the FitError message, and
// a FailedScheduling event; it waits in an unschedulable set until a
// cluster event that may help (a node added or changed, a pod gone, its own
// spec changed), with per-pod backoff, or the UnschedulableFlush period.
//
//	err := scheduler.Run(ctx, scheduler.Config{
//		Kubeconfig: "/var/lib/kinns/labs/demo/pki/scheduler.kubeconfig", // system:kube-scheduler
//		Log:        slog.Default().With("component", "scheduler"),
//	})
//	// Run returns nil once ctx is done; an error means it could not start.
//
// With Config.LeaderElect (see controllers/config.LeaderElection, the same
// fields for both components), one scheduler runs on every control-plane
// host and only the holder of the Lease kube-system/kube-scheduler
// schedules: a standby starts no informer and writes nothing; each term
// builds a fresh scheduler, and a term's workers have all returned before
// the Lease is released or can expire, so no pod is bound by two
// schedulers. A scheduler that loses the Lease stands by again; it never
// exits for it. The system:kube-scheduler bootstrap role allows create, and
// get and update of the Lease named kube-scheduler.
//
// # Filters
//
// A node is rejected by the first check that fails, in this order (the
// Filter names follow the kube-scheduler plugins doing the same check):
//
//   - NodeReady: the Ready condition is True, or the pod tolerates the
//     not-ready (Ready False) or unreachable (Unknown) NoSchedule taint.
//   - NodeUnschedulable: the node is not cordoned, or the pod tolerates the
//     node.kubernetes.io/unschedulable NoSchedule taint.
//   - TaintToleration: every NoSchedule and NoExecute taint is tolerated.
//   - NodeAffinity: nodeSelector and required node affinity.
//   - VolumeBinding: the node affinity of the PersistentVolumes bound to
//     the pod's claims, and the node already selected for a claim waiting
//     for its volume. Before any node, a claim that is missing, being
//     deleted, or unbound with Immediate binding makes the pod
//     unschedulable with kube-scheduler's message (`0/3 nodes are
//     available: persistentvolumeclaim "data" not found.`); it is retried
//     when a claim, PV or StorageClass changes. For an unbound claim whose
//     class binds WaitForFirstConsumer, the scheduler writes the chosen
//     node in its volume.kubernetes.io/selected-node annotation, then binds
//     the pod at once: the provisioner makes the volume on that node, and
//     the kubelet starts the containers once the claim is bound (upstream
//     waits for the binding before it binds the pod; binding first is
//     simpler here and looks the same to the user: ContainerCreating).
//     Pre-made unbound PVs are not matched to WaitForFirstConsumer claims.
//   - NodePorts: the pod's host ports are free.
//   - NodeResourcesFit: pod count, cpu, memory, ephemeral storage and
//     extended resources fit in allocatable minus what bound pods request,
//     deleting pods included. Requests are computed as Kubernetes does:
//     init containers by the max rule, sidecars added, overhead added.
//   - InterPodAffinity: required pod affinity, the pod's required
//     anti-affinity, and the required anti-affinity of bound pods, over
//     any topology key (kubernetes.io/hostname in practice).
//
// # Priority and preemption
//
// Pending pods are taken highest spec.priority first (the API server sets
// it from the pod's PriorityClass), in arrival order among equals, as
// kube-scheduler's PrioritySort. A pod that fits nowhere may preempt, as
// kube-scheduler's DefaultPreemption (Preempt is the pure decision): on
// the nodes rejected for resources, host ports or pod anti-affinity, it
// looks for the fewest, least important pods of lower priority whose
// eviction lets it fit, weighing PodDisruptionBudgets, and picks the node
// with the fewest budget violations, then the lowest victim priorities,
// then the fewest victims. Each victim gets the DisruptionTarget condition
// (reason PreemptionByScheduler) and a Preempted event, then is deleted
// with its grace period; the pod's status.nominatedNodeName names the node.
// Until the pod is bound there, decisions for pods of no higher priority
// count it on that node, so they do not take the room it waits for. A pod
// with preemptionPolicy Never, or whose earlier victims are still
// terminating, does not preempt.
//
// # Scores
//
// Each feasible node gets six scores in 0..100, summed with the weights
// kube-scheduler uses by default (see the Weight constants):
// LeastAllocated (1), BalancedAllocation (1), OwnerSpread (2: fewer live
// pods of the same controller on the node), NodeAffinity (2: preferred
// terms), PodAffinity (2: preferred terms of the pod and of bound pods) and
// TaintToleration (3: fewer untolerated PreferNoSchedule taints). The best
// total wins; equal totals go to the smallest node name.
//
// # Example
//
//	snap := scheduler.NewSnapshot(nodes, boundPods)
//	for _, pod := range pending {
//		d, err := scheduler.Schedule(pod, snap)
//		var fit *scheduler.FitError
//		switch {
//		case errors.As(err, &fit):
//			// Stays Pending: err.Error() is e.g. "0/3 nodes are available:
//			// 1 Insufficient cpu, 2 node(s) had untolerated taint
//			// {node-role.kubernetes.io/control-plane: }."; fit.Insufficient()
//			// and fit.Rejected(...) tell which cluster change may help.
//		case err != nil:
//			// The pod itself is malformed; retrying will not help.
//		default:
//			bound, _ := snap.Assume(pod, d.Node) // the next pod sees it
//			if bindErr := bind(ctx, pod, d.Node); bindErr != nil {
//				snap.RemovePod(bound)
//			}
//		}
//	}
package scheduler
