// Package nodeipam gives every node a pod CIDR: a node registered without
// spec.podCIDR gets the highest free /24 (NodeMaskSize) of 10.244.0.0/16
// (ClusterCIDR) in spec.podCIDR and spec.podCIDRs.
//
// kinns' kubelets register with their block already set (node-N has
// 10.244.N.0/24); the controller records those as used before it assigns
// anything, and assigns from the top of the range down so it stays clear of
// blocks that kubelets not yet registered will claim. A block is never
// offered twice: it stays reserved for the node it was given to, across
// failed patches and stale caches, until that node is deleted. Two nodes
// claiming the same block are logged; the first keeps it.
//
// # Example
//
//	d := deps.Deps{Client: client, Factory: factory, Recorder: recorder, Log: log}
//	c, err := nodeipam.New(d, nodeipam.Options{
//		ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"), NodeMaskSize: 24,
//	})
//	factory.Start(ctx.Done())
//	c.Run(ctx, 1)
package nodeipam
