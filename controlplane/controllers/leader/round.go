package leader

import (
	"context"
	"sync"
	"time"

	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/klog/v2"
)

// round is one pass of the election: standing by, then at most one term as
// leader. A fresh round, with a fresh client-go elector, follows each term.
type round struct {
	o   Options
	act func(context.Context) error
	// parent is Run's context; end cancels the round's, which makes the
	// elector stop renewing, release the Lease and return.
	parent context.Context
	end    context.CancelFunc
	done   chan struct{} // closed once a started term has fully stopped

	mu         sync.Mutex
	over       bool               // no term may start any more
	cancelTerm context.CancelFunc // set once a term has started
	deadline   time.Time          // the term stops then unless the Lease is renewed
	reason     string             // why the round was ended from inside, if it was
	// actReturned says act returned on its own, with actErr; read once the
	// round is over.
	actReturned bool
	actErr      error
}

func newRound(o Options, act func(context.Context) error) *round {
	return &round{o: o, act: act, done: make(chan struct{})}
}

// config is client-go's election on the round's fenced lock.
func (r *round) config() leaderelection.LeaderElectionConfig {
	return leaderelection.LeaderElectionConfig{
		Lock:            fencedLock{Interface: r.o.lock(), r: r},
		LeaseDuration:   r.o.LeaseDuration,
		RenewDeadline:   r.o.RenewDeadline,
		RetryPeriod:     r.o.RetryPeriod,
		Callbacks:       leaderelection.LeaderCallbacks{OnStartedLeading: r.lead, OnStoppedLeading: r.stopped},
		ReleaseOnCancel: true,
		Name:            r.o.Namespace + "/" + r.o.Name,
	}
}

// run stands by until the Lease is acquired, leads until it is lost or ctx
// is done, and returns once the term (if any) has stopped.
func (r *round) run(ctx context.Context, le *leaderelection.LeaderElector) {
	r.parent = ctx
	ctx, r.end = context.WithCancel(ctx)
	defer r.end()
	le.Run(ctx)
}

// lead is the term (client-go's OnStartedLeading, on its own goroutine):
// act, plus the fence that ends the round when renewals stop succeeding.
func (r *round) lead(ctx context.Context) {
	// The term's work logs through klog as it would without an election,
	// not through the elector's logger; its requests carry the round for
	// Fence.
	ctx = context.WithValue(klog.NewContext(ctx, klog.Background()), termKey{}, r)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !r.begin(cancel) {
		return
	}
	defer close(r.done)
	r.o.Log.Info("became leader", "lease", r.o.Namespace+"/"+r.o.Name, "identity", r.o.Identity)
	var fence sync.WaitGroup
	fence.Go(func() { r.fence(ctx) })
	err := r.act(ctx)
	if ctx.Err() == nil { // act gave up on its own: so does the instance
		r.mu.Lock()
		r.actReturned, r.actErr = true, err
		r.mu.Unlock()
		r.endBecause("the component stopped")
	}
	cancel()
	fence.Wait()
}

// begin records the term's cancel, unless the round is already over.
func (r *round) begin(cancel context.CancelFunc) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.over {
		return false
	}
	r.cancelTerm = cancel
	return true
}

// stop ends the term, if one started, and waits until act has returned; no
// term starts after it. It says whether a term had started.
func (r *round) stop() bool {
	r.mu.Lock()
	r.over = true
	cancel := r.cancelTerm
	r.mu.Unlock()
	if cancel == nil {
		return false
	}
	cancel()
	<-r.done
	return true
}

// stopped is client-go's OnStoppedLeading: when it returns, nothing of the
// term runs any more.
func (r *round) stopped() {
	if !r.stop() {
		return
	}
	r.mu.Lock()
	why := r.reason
	r.mu.Unlock()
	switch {
	case why != "":
	case r.parent.Err() != nil:
		why = "shutting down"
	default:
		why = "the Lease was not renewed"
	}
	r.o.Log.Info("lost leadership", "lease", r.o.Namespace+"/"+r.o.Name, "identity", r.o.Identity, "reason", why)
}

// endBecause ends the round from inside, for the given reason.
func (r *round) endBecause(why string) {
	r.mu.Lock()
	if r.reason == "" {
		r.reason = why
	}
	r.mu.Unlock()
	r.end()
}

// fence ends the round once RenewDeadline has passed since the last
// successful renewal was sent. client-go gives up a little later (it starts
// counting RenewDeadline one RetryPeriod after that renewal came back), but
// a standby may take over LeaseDuration after it saw the renewal: the term
// must be over before.
func (r *round) fence(ctx context.Context) {
	t := time.NewTimer(r.untilDeadline())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		left := r.untilDeadline()
		if left <= 0 {
			r.endBecause("no renewal succeeded within the renew deadline")
			return
		}
		t.Reset(left)
	}
}

func (r *round) untilDeadline() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Until(r.deadline)
}

// renewed moves the deadline after a successful write of the Lease in our
// name that was sent at sent.
func (r *round) renewed(sent time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d := sent.Add(r.o.RenewDeadline); d.After(r.deadline) {
		r.deadline = d
	}
}
