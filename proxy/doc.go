// Package proxy is the per-node Service proxy: one process per node,
// started by the harness in the node's network namespace beside its kubelet
// (`lab component proxy`, logs as `lab logs proxy/node-N`). It watches
// Services and EndpointSlices as system:kube-proxy, a read-only identity,
// and programs that namespace's iptables so that ClusterIPs, NodePorts and
// external addresses reach ready endpoints wherever they run (claims 7,
// 10, 13). It writes nothing to the API: node and pod status are the
// kubelet's to report.
//
// The rules are rendered whole at every sync by the pure package
// proxy/rules and applied in one `iptables-restore --noflush`, in chains
// named KINNS-*; a chain without that prefix is never touched. A sync runs
// at once after a change (but at most one per MinSyncPeriod) and every
// SyncPeriod even without one, which puts back rules changed by hand
// (claim 17). After a sync the proxy clears the UDP conntrack entries that
// still point at endpoints that left, and serves the health check node
// port of each Service with externalTrafficPolicy Local.
//
// It serves kube-proxy's /healthz on :10256 and its sync metrics on
// /metrics there and on 127.0.0.1:10249.
//
//	err := proxy.Run(ctx, proxy.Config{
//		Kubeconfig: "proxy.kubeconfig", NodeName: "node-1",
//		NodeIP: "10.89.0.21", ClusterCIDR: "10.244.0.0/16",
//		HealthzAddress: ":10256",
//	}, func() { fmt.Println("rules in place") })
package proxy
