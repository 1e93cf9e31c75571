// Package serviceaccount makes sure every active namespace has the
// ServiceAccount named `default`: the API server's ServiceAccount admission
// refuses pods that use it until it exists. Tokens are not made here; the API
// server issues projected tokens to pods itself.
//
// The controller reacts to namespaces appearing and to a `default` account
// being deleted, so a deleted account comes back within a sync.
//
// # Example
//
//	d := deps.Deps{Client: client, Factory: factory, Recorder: recorder, Log: log}
//	c, err := serviceaccount.New(d, serviceaccount.Options{})
//	factory.Start(ctx.Done())
//	c.Run(ctx, 2)
package serviceaccount
