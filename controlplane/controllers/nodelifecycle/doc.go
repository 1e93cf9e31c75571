// Package nodelifecycle notices dead nodes and moves work off them, and
// refuses to do so when the evidence may come from an outage of its own
// view rather than from the nodes.
//
// Every MonitorPeriod the Controller makes one pass:
//
//   - Heartbeats. A node shows it is alive when its Lease in kube-node-lease
//     is renewed or its Ready condition's lastHeartbeatTime moves. The time
//     recorded is the controller's own clock when it saw the change, and a
//     node seen for the first time (also right after the controller starts)
//     counts from then: nobody is judged on renewals the controller could not
//     see.
//   - Judgement. A node with no heartbeat for GracePeriod (StartupGracePeriod
//     if it never posted Ready) is silent: its kubelet conditions become
//     Unknown (reason NodeStatusUnknown, "Kubelet stopped posting node
//     status."), its pods' Ready condition False, so Services stop sending to
//     them, and it gets the node.kubernetes.io/unreachable NoSchedule and
//     NoExecute taints. A node whose kubelet reports Ready=False gets
//     node.kubernetes.io/not-ready instead. Both go when it is Ready again.
//   - Eviction. A pod on a node with NoExecute taints is deleted when a taint
//     it does not tolerate is there, or when the shortest tolerationSeconds
//     of its tolerations for a taint has run out, counted from the taint's
//     timeAdded (or the pod's creation, if later). The API server's
//     DefaultTolerationSeconds gives every pod such tolerations (2 s in
//     kinns' fast profile, 300 s upstream).
//
// # Disruption guard
//
// Before acting, a pass decides a Mode. Blind: no node at all has shown a
// heartbeat for BlindAfter (GracePeriod/2) — the API server or etcd is
// away, or the controller's watch is cut, so every node will soon look
// silent at once, each at a slightly different moment. FullDisruption: every
// judged node is unhealthy. PartialDisruption: more than two nodes and at
// least 55% of them are unhealthy (upstream's unhealthy-zone threshold; in a
// cluster this small upstream stops evicting too). In any of these the
// controller writes no status, adds no taint and evicts nothing because of
// the unreachable or not-ready taints; it only removes taints of nodes that
// are healthy again, and still honours NoExecute taints people put on nodes.
// Leaving Blind or FullDisruption starts every node's grace period afresh.
// So a control-plane outage of any length evicts nothing (claim 16), while a
// node dying among live ones is handled within GracePeriod plus its pods'
// tolerationSeconds (claim 15).
//
// Kubelets must renew their Lease well within BlindAfter, and re-post
// Ready=True when they find the API says otherwise after a partition.
//
// # Example
//
//	d := deps.Deps{Client: client, Factory: factory, Recorder: recorder, Log: log}
//	c, err := nodelifecycle.New(d, nodelifecycle.Options{
//		MonitorPeriod: time.Second, GracePeriod: 10 * time.Second,
//	})
//	factory.Start(ctx.Done())
//	c.Run(ctx, 1) // until ctx is done
package nodelifecycle
