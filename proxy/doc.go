// Package proxy will be the per-node Service proxy: one process per node,
// started in the node's network namespace like the kubelet, that watches
// Services and EndpointSlices as system:kube-proxy (the pki.Proxy identity,
// read-only) and programs iptables NAT rules in that namespace, so that
// ClusterIPs and NodePorts reach ready endpoints (claims 7, 10, 13).
//
// It is not built yet: the Service proxy has its own issue. What it will
// rely on is in place: the EndpointSlice controller, the proxy's
// certificate, and bridge-nf-call-iptables on every node's cni0 so that
// traffic between two pods of one node goes through those rules.
package proxy
