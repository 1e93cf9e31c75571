// Package leader runs a component's work only while it holds a Lease, so
// that one instance of the component can run on every control-plane host
// and exactly one acts. The scheduler and the controller manager use it.
//
// Run is client-go's tools/leaderelection on a resourcelock.LeaseLock, with
// three things added for a process that must never exit and never act
// twice:
//
//   - each time the instance acquires the Lease it starts a term: act runs
//     with a context that is cancelled the moment the term ends; a standby
//     runs nothing but the election (no informers, no writes);
//   - the term ends at the latest RenewDeadline after the last successful
//     renewal was sent, before any standby can take over (LeaseDuration
//     after it saw that renewal), even while client-go still retries;
//   - the Lease is released (ReleaseOnCancel) and the next round of the
//     election begins only once act has returned: nothing of an old term
//     can write when another instance, or this one again, starts acting.
//
// Fence, a client transport wrapper, refuses the requests of a term past
// its deadline even before the term's context is cancelled (a frozen leader
// waking up); the components wrap the clients they act with, not the
// Lease's.
//
// If act returns while its term is still on, Run releases the Lease and
// returns act's error: a component that cannot act must not hold the Lease.
//
// # Example
//
//	id, err := leader.HolderIdentity("cp-1") // "cp-1_<uuid>"
//	if err != nil {
//		return err
//	}
//	return leader.Run(ctx, leader.Options{
//		Client: leaseClient, Namespace: "kube-system", Name: "kube-scheduler", Identity: id,
//		LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 500 * time.Millisecond,
//		Log: log,
//	}, func(ctx context.Context) error {
//		return schedule(ctx) // returns once ctx is done
//	}) // returns when ctx is done, or when act failed
package leader
