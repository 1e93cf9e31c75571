// Package disruption keeps every PodDisruptionBudget's status: how many of
// its pods are healthy, how many must be, and how many disruptions are
// allowed now. The API server's eviction subresource (pods/eviction), which
// `kubectl drain` uses, reads that status and answers 429 "Cannot evict pod
// as it would violate the pod's disruption budget." when no disruption is
// allowed; without this controller every budget stays at zero allowed.
//
// The work is upstream's disruption controller
// (k8s.io/kubernetes/pkg/controller/disruption, v1.37.2), imported as a
// library. It finds the scale of a budget's pods' controller through the
// built-in informers (ReplicaSets, Deployments, StatefulSets,
// ReplicationControllers) and, for any other controller, through the scale
// subresource, with a RESTMapper from discovery.
//
// # Example
//
//	c, err := disruption.New(deps.Deps{Client: client, Factory: factory, Log: log}, disruption.Options{})
//	factory.Start(ctx.Done())
//	c.Run(ctx, disruption.Workers)
package disruption
