// Package podgc deletes pods nobody else will: terminated pods over a
// threshold (oldest first), pods bound to a node that no longer exists,
// terminating pods on a node that is out of service, and pods never
// scheduled that are being deleted.
//
// The work is upstream's pod garbage collector
// (k8s.io/kubernetes/pkg/controller/podgc, v1.37.2), imported as a library.
// It has one loop, every 20 s, and takes no worker count.
//
// # Example
//
//	c, err := podgc.New(deps.Deps{Client: client, Factory: factory, Log: log}, podgc.Options{})
//	factory.Start(ctx.Done())
//	c.Run(ctx, 1)
package podgc
