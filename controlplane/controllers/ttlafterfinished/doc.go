// Package ttlafterfinished deletes a finished Job (and, in the foreground,
// its pods) once its ttlSecondsAfterFinished has passed.
//
// The work is upstream's TTL-after-finished controller
// (k8s.io/kubernetes/pkg/controller/ttlafterfinished, v1.37.2), imported as
// a library.
//
// # Example
//
//	c, err := ttlafterfinished.New(deps.Deps{Client: client, Factory: factory, Log: log}, ttlafterfinished.Options{})
//	factory.Start(ctx.Done())
//	c.Run(ctx, ttlafterfinished.Workers)
package ttlafterfinished
