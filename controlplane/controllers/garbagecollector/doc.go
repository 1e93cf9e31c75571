// Package garbagecollector deletes objects whose owners are gone, following
// metadata.ownerReferences across every resource the API server serves:
//
//   - background: a dependent whose owners have all been deleted is deleted;
//   - foreground: an owner deleted with propagationPolicy=Foreground carries
//     the foregroundDeletion finalizer until its dependents with
//     blockOwnerDeletion are gone, then the finalizer is removed;
//   - orphan: an owner deleted with propagationPolicy=Orphan carries the
//     orphan finalizer until its dependents' references to it are removed.
//
// The work is done by upstream's garbage collector
// (k8s.io/kubernetes/pkg/controller/garbagecollector, v1.37.2), imported as
// a library: it builds its dependency graph from shared informers (typed
// ones where the clientset knows the type, metadata-only ones otherwise) and
// acts through the metadata client, which is exactly what a plain client-go
// program has. Its graph, its handling of virtual (never observed) owners
// and of cluster-scoped versus namespaced owners are subtle enough that a
// rewrite would be worse. This package wires it the way kube-controller-
// manager does: a RESTMapper over cached discovery, upstream's default
// ignored resources (events), and a periodic discovery resync that picks up
// new resources such as CRDs.
//
// # Example
//
//	started := make(chan struct{})
//	d := deps.Deps{Client: client, Factory: factory, Recorder: recorder, Log: log}
//	c, err := garbagecollector.New(d, garbagecollector.Options{
//		Metadata: metadataClient, MetadataInformers: metadataFactory, InformersStarted: started,
//	})
//	factory.Start(ctx.Done())
//	metadataFactory.Start(ctx.Done())
//	close(started)
//	c.Run(ctx, 5)
package garbagecollector
