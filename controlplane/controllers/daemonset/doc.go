// Package daemonset runs one pod of every DaemonSet on each node that fits
// it: node selectors and affinity, taints and tolerations, a node that joins
// or becomes schedulable again, rolling updates and OnDelete, history in
// ControllerRevisions.
//
// The work is upstream's DaemonSet controller
// (k8s.io/kubernetes/pkg/controller/daemon, v1.37.2), imported as a library.
// Its pods carry a required node affinity on the node's name (matchFields
// metadata.name) and tolerate the node condition taints, as upstream's, and
// kinns' scheduler places them (component-helpers' node affinity).
//
// # Example
//
//	c, err := daemonset.New(deps.Deps{Client: client, Factory: factory, Log: log}, daemonset.Options{})
//	factory.Start(ctx.Done())
//	c.Run(ctx, daemonset.Workers)
package daemonset
