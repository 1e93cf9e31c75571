package config

import (
	"log/slog"
	"time"

	v1 "k8s.io/api/core/v1"

	controllersconfig "github.com/kinns/kinns/controlplane/controllers/config"
)

// Defaults applied by Run to zero fields of Config.
const (
	DefaultQPS                = 100
	DefaultBurst              = 200
	DefaultBindWorkers        = 16
	DefaultPodInitialBackoff  = time.Second
	DefaultPodMaxBackoff      = 10 * time.Second
	DefaultUnschedulableFlush = 60 * time.Second
)

// Config describes one scheduler process.
type Config struct {
	// Kubeconfig is the path of a kubeconfig with the system:kube-scheduler
	// identity; its RBAC bootstrap role grants everything Run does.
	Kubeconfig string
	// SchedulerName selects the pods this scheduler places, those whose
	// spec.schedulerName has this value; default "default-scheduler". It is
	// also the reporting controller of the events.
	SchedulerName string

	// QPS and Burst bound the requests to the API server (default 100 and
	// 200): a burst of 500 pods means 500 bindings. Events go through a
	// second client with the same limits, so they never delay bindings.
	QPS   float32
	Burst int
	// BindWorkers bounds the API calls in flight for decisions already
	// taken: bindings and status patches (default 16). Decisions are taken
	// one at a time; the scheduling loop waits when every worker is busy.
	BindWorkers int

	// PodInitialBackoff and PodMaxBackoff space the attempts of one pod: the
	// n-th retry comes no sooner than initial*2^(n-1), capped at max, after
	// the previous attempt (defaults 1s and 10s, as kube-scheduler).
	PodInitialBackoff time.Duration
	PodMaxBackoff     time.Duration
	// UnschedulableFlush is the safety net for unschedulable pods: one that
	// no cluster event brought back is retried after this long (default
	// 60s). Events (a node added or changed, a pod gone…) bring pods back
	// much sooner; see Run.
	UnschedulableFlush time.Duration

	// LeaderElection makes the scheduler schedule only while it holds the
	// Lease kube-system/kube-scheduler (off by default). The type is the
	// controller manager's, so that the harness gives both components the
	// same fields, flat in the JSON (LeaderElect, Identity, LeaseDuration,
	// RenewDeadline, RetryPeriod); see controllersconfig.LeaderElectionTiming
	// for the timing of each profile.
	controllersconfig.LeaderElection

	// Log receives the scheduler's own messages; nil discards them.
	Log *slog.Logger `json:"-"`
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.SchedulerName == "" {
		c.SchedulerName = v1.DefaultSchedulerName
	}
	if c.QPS == 0 {
		c.QPS = DefaultQPS
	}
	if c.Burst == 0 {
		c.Burst = DefaultBurst
	}
	if c.BindWorkers <= 0 {
		c.BindWorkers = DefaultBindWorkers
	}
	if c.PodInitialBackoff <= 0 {
		c.PodInitialBackoff = DefaultPodInitialBackoff
	}
	if c.PodMaxBackoff < c.PodInitialBackoff {
		c.PodMaxBackoff = max(DefaultPodMaxBackoff, c.PodInitialBackoff)
	}
	if c.UnschedulableFlush <= 0 {
		c.UnschedulableFlush = DefaultUnschedulableFlush
	}
	c.LeaderElection = c.LeaderElection.WithDefaults()
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}
