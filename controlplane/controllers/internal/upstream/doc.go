// Package upstream adapts a controller of k8s.io/kubernetes/pkg/controller,
// imported as a library, to kinns' controller convention.
//
// Upstream constructors take a context (their logger, and the lifetime of
// the event broadcaster each one starts), so they are built in Run, once
// per term of the manager; but the informers they read must be registered in
// the shared factory before the manager starts it, so New registers them.
// Runner is the part every adapter shares: klog bridged to the controller's
// slog logger, construction in Run, and a controller that cannot be built
// logs why and stands idle until its context ends, rather than taking the
// whole manager down.
//
// # Example
//
//	pods := d.Factory.Core().V1().Pods()
//	upstream.Register(pods)
//	r := upstream.Runner{Log: d.Log, Start: func(ctx context.Context) (upstream.RunFunc, error) {
//		c := podgc.NewPodGC(ctx, d.Client, pods, nodes, 12500)
//		return func(ctx context.Context, _ int) { c.Run(ctx) }, nil
//	}}
//	r.Run(ctx, 5)
package upstream
