// Package rules renders a node's Service rules for iptables: given the
// node, the Services and EndpointSlices the proxy sees, and the chains that
// exist now, Render returns the input for one `iptables-restore --noflush`
// that brings the node's filter and nat tables to the state those objects
// ask for, and what the proxy must do outside iptables (health check node
// ports, conntrack cleanup for UDP).
//
// Render is pure: no iptables, no clock, no randomness. The same inputs in
// any order give the same bytes, which testdata/*.golden records. Watching
// the API, running iptables-restore, ensuring the Jumps, serving health
// checks and clearing conntrack belong to the proxy around it.
//
// # Chains
//
// Every chain of ours starts with Prefix (KINNS-) and fits in 28
// characters. The top-level chains are always declared, so the Jumps from
// the built-in chains always have a target:
//
//	nat    KINNS-SERVICES           ClusterIPs, external and LB IPs; last, the node's IPs -> KINNS-NODEPORTS
//	nat    KINNS-NODEPORTS          NodePorts -> KINNS-EXT-…
//	nat    KINNS-MARK-MASQ          marks a packet 0x4000 for masquerade
//	nat    KINNS-POSTROUTING        masquerades marked packets
//	filter KINNS-SERVICES           REJECT for ClusterIPs without endpoints, DROP without local ones
//	filter KINNS-EXTERNAL-SERVICES  the same for NodePorts and external IPs, and loadBalancerSourceRanges
//	filter KINNS-FORWARD            accepts marked and established traffic whatever FORWARD's policy
//
// Each service port has chains named by a hash of namespace/name:port/
// protocol: KINNS-SVC- balances over the ready endpoints of the cluster,
// KINNS-SVL- over those of this node, KINNS-EXT- takes outside traffic
// (NodePorts, externalIPs, LB ingress IPs), KINNS-FW- checks
// loadBalancerSourceRanges; each endpoint has a KINNS-SEP- chain that
// masquerades a pod reaching itself and DNATs. A chain is rendered only
// when something jumps to it. Chains of ours listed in Existing that are
// not rendered are flushed and deleted in the same restore.
//
// # Choices
//
//   - Endpoints: ready ones; when a port has none, those still serving
//     while they terminate. This is decided separately for the cluster
//     and for this node, so externalTrafficPolicy Local keeps serving from
//     a terminating local pod during a rollout.
//   - Traffic to a ClusterIP from outside the pod network (the node itself)
//     is masqueraded; with no ClusterCIDR in Config, all of it is.
//   - externalTrafficPolicy Local: outside clients keep their address and
//     reach local endpoints only, and are dropped on a node with none.
//     Pods and the node itself reaching a NodePort or external address are
//     handled as for the ClusterIP (internalTrafficPolicy applies) and
//     masqueraded, so that the reply comes back through the node they
//     addressed even if it is not the endpoint's.
//   - HealthCheck.LocalEndpoints is the largest number of ready local
//     endpoints over the Service's ports.
//
// # Example
//
//	out := rules.Render(rules.Config{
//		NodeName:    "node-1",
//		NodeIPs:     []netip.Addr{netip.MustParseAddr("10.89.0.21")},
//		ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"),
//	}, services, endpointSlices, rules.Existing{Filter: filterChains, NAT: natChains})
//	// The proxy then runs `iptables-restore --noflush` with out.Text on its
//	// stdin, ensures each of rules.Jumps() exists, and serves
//	// out.HealthChecks.
package rules
