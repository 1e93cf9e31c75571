// Package namespace finishes namespace deletion: when a namespace is
// terminating, it deletes every namespaced object in it (found through
// discovery, deleted through the metadata client), waits for them to go,
// then removes the `kubernetes` finalizer through the finalize subresource so
// the API server can remove the namespace.
//
// The work is done by upstream's namespace controller
// (k8s.io/kubernetes/pkg/controller/namespace, v1.37.2), imported as a
// library: it needs only a clientset, a metadata client, a discovery
// function and a namespace informer, and it knows the corner cases
// (resources that cannot be listed or deleted, pods with grace periods,
// the conditions it reports on the namespace). This package adapts it to
// kinns' controller convention and delays building it until discovery
// answers, because upstream exits the process when discovery returns nothing
// at construction, which would kill the controller manager when it starts
// before the API server is ready.
//
// # Example
//
//	d := deps.Deps{Client: client, Factory: factory, Recorder: recorder, Log: log}
//	c, err := namespace.New(d, namespace.Options{Metadata: metadataClient})
//	factory.Start(ctx.Done())
//	c.Run(ctx, 5)
package namespace
