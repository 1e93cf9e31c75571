package leader

import (
	"context"
	"time"

	rl "k8s.io/client-go/tools/leaderelection/resourcelock"
)

// fencedLock is the Lease lock of one round. It tells the round when a
// write in our name succeeded, which moves the term's deadline, and it lets
// a write in another name through (that is how the elector releases the
// Lease) only once the round's term has stopped: with ReleaseOnCancel,
// client-go releases before it cancels the term.
type fencedLock struct {
	rl.Interface
	r *round
}

func (l fencedLock) Create(ctx context.Context, rec rl.LeaderElectionRecord) error {
	return l.write(ctx, rec, l.Interface.Create)
}

func (l fencedLock) Update(ctx context.Context, rec rl.LeaderElectionRecord) error {
	return l.write(ctx, rec, l.Interface.Update)
}

func (l fencedLock) write(ctx context.Context, rec rl.LeaderElectionRecord, write func(context.Context, rl.LeaderElectionRecord) error) error {
	ours := rec.HolderIdentity == l.Identity()
	if !ours {
		l.r.stop()
	}
	sent := time.Now()
	if err := write(ctx, rec); err != nil {
		return err
	}
	if ours {
		l.r.renewed(sent)
	}
	return nil
}
