// Package node is the kubelet's node agent: it registers the node's Node
// (capacity and allocatable from the config, InternalIP and Hostname
// addresses, pod CIDR, standard and configured labels, taints, the kubelet
// endpoint, node info), renews its Lease in kube-node-lease every
// LeaseRenewInterval (the Node owns the Lease), and patches its conditions
// every StatusUpdateFrequency: Ready, False while the container runtime or
// the pod network does not answer; MemoryPressure, DiskPressure and
// PIDPressure, always False (no evictions). A Node deleted meanwhile is
// registered again.
//
//	a := node.New(cfg, node.Deps{Client: client, Runtime: rt, Network: net})
//	if err := a.Register(ctx); err != nil { … } // retries until the API answers
//	a.Run(ctx)                                   // until ctx ends
package node
