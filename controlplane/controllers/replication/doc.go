// Package replication keeps the pods of every ReplicationController at its
// replica count: the controller the upstream conformance suite and kubectl
// tutorials still use.
//
// The work is upstream's replication manager
// (k8s.io/kubernetes/pkg/controller/replication, v1.37.2), imported as a
// library: it is upstream's ReplicaSet controller behind an adapter for the
// older type. kinns has its own ReplicaSet controller (package replicaset)
// because it was written before the project used upstream's controllers;
// ReplicationControllers gain nothing from a second copy.
//
// # Example
//
//	c, err := replication.New(deps.Deps{Client: client, Factory: factory, Log: log}, replication.Options{})
//	factory.Start(ctx.Done())
//	c.Run(ctx, replication.Workers)
package replication
