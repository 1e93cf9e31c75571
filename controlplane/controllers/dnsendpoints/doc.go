// Package dnsendpoints keeps the endpoints of the cluster DNS Service
// (kube-system/kube-dns) to the DNS instances that answer. The instances
// are lab components on control-plane hosts, not pods, so no kubelet
// reports their readiness: this controller does the kubelet's part, probing
// each instance's readiness endpoint (CoreDNS's /ready) every period, and
// writes one EndpointSlice in which an instance that stops answering —
// stopped, killed, paused, cut off — is no longer ready, so that the Service
// proxies stop sending queries to it.
//
//	c, err := dnsendpoints.New(deps.Deps{Client: client, Log: log}, dnsendpoints.Options{
//		Servers: []string{"10.89.0.12", "10.89.0.13"},
//	})
//	go c.Run(ctx, 1)
package dnsendpoints
