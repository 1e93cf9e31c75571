// Package endpointslicemirroring mirrors the Endpoints a user writes for a
// Service without a selector into EndpointSlices, which is what kinns'
// proxy and CoreDNS read.
//
// The work is upstream's EndpointSlice mirroring controller
// (k8s.io/kubernetes/pkg/controller/endpointslicemirroring, v1.37.2),
// imported as a library.
//
// # Example
//
//	c, err := endpointslicemirroring.New(deps.Deps{Client: client, Factory: factory, Log: log}, endpointslicemirroring.Options{})
//	factory.Start(ctx.Done())
//	c.Run(ctx, endpointslicemirroring.Workers)
package endpointslicemirroring
