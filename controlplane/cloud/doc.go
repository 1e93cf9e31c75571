// Package cloud is the lab's cloud controller manager (claim 5): the
// upstream service controller (k8s.io/cloud-provider/controllers/service)
// on a provider of ours, so that a Service of type LoadBalancer gets an
// address from the fabric's pool in status.loadBalancer.ingress, and the
// fabric routes that address to the nodes that should answer. It runs as
// `lab component cloud` beside each controller manager, and acts only
// while it holds the Lease kube-system/cloud-controller-manager.
//
// The parts, each small and most of them pure:
//
//   - Pool hands out addresses of a range, one per Service, and keeps
//     each Service's address; at the start of each term the manager seeds
//     it from the Services' status (Provider.Seed), so a restarted or new
//     leader gives every Service the address it had, and routes it, before
//     the service controller allocates anything new. Only the leader
//     allocates, and its writes are fenced (leader.Fence).
//   - Provider implements cloudprovider.Interface: LoadBalancer records
//     each Service's address, its nodes and its health check; an exhausted
//     pool fails EnsureLoadBalancer with ErrPoolExhausted, which the
//     service controller reports as a SyncLoadBalancerFailed Warning event
//     on the Service, which stays pending. InstancesV2 gives each node its
//     providerID, kinns://<lab>/<node>.
//   - Routes decides, for each address, the nodes its route names: the
//     Ready nodes offered to it whose health check has not failed twice in
//     a row — the proxy's /healthz under externalTrafficPolicy Cluster, the
//     Service's health check node port (200 only where a ready endpoint is
//     local) under Local — or all of them if every check fails.
//   - Fabric applies the decision: a proxy-ARP entry and an ECMP /32
//     route in the fabric namespace (see netlinkFabric for why that way).
//
// The routing loop checks nodes and syncs every CheckInterval, and at
// once when a Service changes; a released address loses its route before
// it is handed out again.
//
//	err := cloud.Run(ctx, config.Config{
//		Kubeconfig: "cloud-controller-manager.kubeconfig", Lab: "kinns",
//		Pool:        "10.89.0.200-10.89.0.250",
//		FabricNetns: "/run/netns/kinns-fabric", Bridge: "fabric0", RouterLink: "router",
//	})
package cloud
