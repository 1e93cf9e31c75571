// Package dns runs the cluster's DNS: the real CoreDNS, built into the lab
// binary as a library with only the plugins a cluster needs (kubernetes,
// forward, cache, errors, health, ready, loop, prometheus), as a component
// of its own (`lab component dns`) on two control-plane hosts. It reads
// Services, EndpointSlices, Pods and Namespaces as system:coredns, a
// read-only identity (the upstream role), and answers for the cluster
// domain; any other name fails at once (REFUSED), unless Config.Upstream
// names resolvers to forward to. Clients reach it through the kube-dns
// Service (10.96.0.10), whose endpoints the controller manager keeps to the
// instances that answer their readiness check.
//
//	err := dns.Run(ctx, dns.Config{Kubeconfig: "dns.kubeconfig", Domain: "cluster.local"},
//		func() { fmt.Println("serving") })
package dns
