package config

import (
	"errors"
	"fmt"
	"time"
)

// LeaderElection says whether an instance competes for its component's
// Lease (kube-system/kube-scheduler, kube-system/kube-controller-manager)
// and with which timing. The scheduler's config embeds it too, so that the
// harness writes the same fields for both components.
type LeaderElection struct {
	// LeaderElect makes the instance act only while it holds the Lease, so
	// that one instance per control-plane host can run and exactly one
	// acts. False (the default) acts at once: one instance per lab.
	LeaderElect bool
	// Identity names the instance in the Lease: its holderIdentity is
	// Identity + "_" + a random UUID, as upstream's "<hostname>_<uuid>", so
	// a person reads where the leader runs and two processes never share a
	// holder. Default: the host name.
	Identity string
	// LeaseDuration is how long a standby waits, after it last saw the
	// Lease renewed, before it takes the Lease over. The Lease records it
	// in whole seconds, so it is at least one second.
	LeaseDuration time.Duration
	// RenewDeadline is how long the leader keeps acting without a
	// successful renewal; it stops acting then, which is before any
	// standby may take over (LeaseDuration after the same renewal).
	RenewDeadline time.Duration
	// RetryPeriod is how often the leader renews and a standby tries to
	// acquire.
	RetryPeriod time.Duration
}

// LeaderElectionTiming returns the lease timing of a profile, with
// LeaderElect false and no Identity: the harness sets those.
//
// "kubernetes" is upstream's default (--leader-elect-lease-duration 15s,
// --leader-elect-renew-deadline 10s, --leader-elect-retry-period 2s).
//
// Anything else is "fast", 4s / 3s / 500ms:
//   - a leader that dies without a word (host killed, frozen, cut off) is
//     replaced about LeaseDuration + one or two RetryPeriods after its last
//     renewal, 4-5 s; one that shuts down releases the Lease, and a standby
//     takes it on its next try, within about a second;
//   - it never flaps: the leader gives up only after RenewDeadline, 3 s,
//     without a single successful renewal, i.e. six attempts in a row
//     failing or a 3 s stall. A busy 2-core host delays a goroutine by tens
//     of milliseconds; an etcd leader change in the fast profile stalls
//     writes for at most ~1.6 s, which 3 s rides out;
//   - the leader stops acting at its last renewal + RenewDeadline, and no
//     standby acts before that renewal + LeaseDuration: 1 s for the old
//     term's loops to notice their cancelled context, which takes
//     milliseconds;
//   - cost: the leader writes its Lease twice a second, a standby reads it
//     once or twice a second: a handful of requests per second for two
//     components on three hosts.
func LeaderElectionTiming(profile string) LeaderElection {
	if profile == ProfileKubernetes {
		return LeaderElection{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}
	}
	return LeaderElection{LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 500 * time.Millisecond}
}

// WithDefaults returns l with zero durations set to the "kubernetes"
// profile's.
func (l LeaderElection) WithDefaults() LeaderElection {
	k := LeaderElectionTiming(ProfileKubernetes)
	if l.LeaseDuration <= 0 {
		l.LeaseDuration = k.LeaseDuration
	}
	if l.RenewDeadline <= 0 {
		l.RenewDeadline = k.RenewDeadline
	}
	if l.RetryPeriod <= 0 {
		l.RetryPeriod = k.RetryPeriod
	}
	return l
}

// Validate says what is wrong with the timing of an instance that elects.
// The renew deadline must be shorter than the lease duration as the Lease
// records it (whole seconds), or a leader could still act when a standby
// takes over.
func (l LeaderElection) Validate() error {
	if !l.LeaderElect {
		return nil
	}
	var errs []error
	recorded := l.LeaseDuration.Truncate(time.Second)
	if recorded < time.Second {
		errs = append(errs, fmt.Errorf("lease duration %s: the Lease records whole seconds, need at least 1s", l.LeaseDuration))
	}
	if l.RenewDeadline <= 0 || l.RenewDeadline >= recorded {
		errs = append(errs, fmt.Errorf("renew deadline %s must be positive and shorter than the lease duration %s", l.RenewDeadline, recorded))
	}
	if l.RetryPeriod <= 0 || float64(l.RenewDeadline) <= 1.2*float64(l.RetryPeriod) {
		errs = append(errs, fmt.Errorf("retry period %s must be positive and under the renew deadline %s / 1.2", l.RetryPeriod, l.RenewDeadline))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	return nil
}
