package etcd

import "errors"

var (
	// ErrNotReady means the member did not serve within Config.ReadyTimeout,
	// usually because no quorum of the cluster came up.
	ErrNotReady = errors.New("etcd member not ready")
	// ErrForeignDataDir means the data dir holds a member of another cluster
	// (another token or member list) or another member of this one.
	ErrForeignDataDir = errors.New("data dir belongs to another etcd member or cluster")
	// ErrStopped means a running member stopped on its own.
	ErrStopped = errors.New("etcd member stopped")
	// ErrNoQuorum means the cluster could not serve a linearizable read in
	// time: fewer than a majority of members are up and connected, or none is
	// reachable.
	ErrNoQuorum = errors.New("etcd cluster has no quorum")
	// ErrSlow means a linearizable read was not confirmed in time, yet a
	// majority of members follow one leader: the cluster has its quorum and
	// is slow (a starved or overloaded leader), not lost.
	ErrSlow = errors.New("etcd cluster is slow but has its quorum")
)
