package config

import "time"

// Timing profiles, as `lab up --timing` names them.
const (
	ProfileFast       = "fast"
	ProfileKubernetes = "kubernetes"
)

// Timing returns the raft heartbeat interval and election timeout of a timing
// profile. "kubernetes" is etcd's default, which kubeadm clusters run with.
// An unknown profile gets those defaults too: they are the safe choice.
//
// "fast" trims the election timeout only, to 800ms (8 heartbeats), which makes
// a failover after a dead leader take 0.8-1.6s instead of 1-2s (raft picks each
// follower's timeout at random in [timeout, 2*timeout)). It must never flap on
// a busy 2-core host running ~10 processes, hence:
//   - the heartbeat stays at 100ms: a shorter one buys nothing on a veth link
//     whose round trip is microseconds, and only adds wake-ups;
//   - a follower campaigns (and a leader steps down, with CheckQuorum) only
//     after a silence of at least 8 ticks, so a healthy leader has to stall
//     for ~700ms before anything happens. CPU scheduling delays and Go GC
//     pauses on such a host are tens of milliseconds; the one thing that
//     reaches hundreds is fsync on a busy disk, which Config.UnsafeNoFsync
//     removes;
//   - PreVote (on in etcd 3.6+) keeps a member that was frozen or cut off from
//     deposing a healthy leader when it comes back.
//
// Going lower gains little: a lab's failover time is dominated by the API
// server and controllers noticing, not by the raft election.
func Timing(profile string) (heartbeat, election time.Duration) {
	if profile == ProfileFast {
		return 100 * time.Millisecond, 800 * time.Millisecond
	}
	return 100 * time.Millisecond, 1000 * time.Millisecond
}
