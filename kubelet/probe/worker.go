package probe

import (
	"context"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// Worker runs one probe of one container run: first after InitialDelaySeconds
// from the run's start, then every PeriodSeconds, and reports when the
// probe's verdict flips — healthy after SuccessThreshold successes in a row,
// unhealthy after FailureThreshold failures in a row. Unknown results (the
// probe could not run) count for neither.
type Worker struct {
	Probe *v1.Probe
	// Do runs the probe once (Do above, bound to a target).
	Do func(ctx context.Context) (Result, string)
	// StartedAt is when the run started.
	StartedAt time.Time
	Clock     clock.Clock
	// Report receives each new verdict; it must not block for long.
	Report func(healthy bool, msg string)
	// StopOnSuccess and StopOnFailure end the worker after such a verdict
	// (a startup probe's success; any verdict that gets the run killed).
	StopOnSuccess, StopOnFailure bool
}

// Run probes until ctx ends or a verdict stops it.
func (w Worker) Run(ctx context.Context) {
	clk := w.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	delay := time.Duration(w.Probe.InitialDelaySeconds)*time.Second - clk.Since(w.StartedAt)
	if !sleep(ctx, clk, delay) {
		return
	}
	var last Result
	count := 0
	verdict := 0 // 0 none yet, 1 healthy, -1 unhealthy
	for {
		r, msg := w.Do(ctx)
		if ctx.Err() != nil {
			return
		}
		if r != Unknown {
			if r == last {
				count++
			} else {
				last, count = r, 1
			}
			switch {
			case r == Success && count >= threshold(w.Probe.SuccessThreshold) && verdict != 1:
				verdict = 1
				w.Report(true, "")
				if w.StopOnSuccess {
					return
				}
			case r == Failure && count >= threshold(w.Probe.FailureThreshold, 3) && verdict != -1:
				verdict = -1
				w.Report(false, msg)
				if w.StopOnFailure {
					return
				}
			}
		}
		if !sleep(ctx, clk, period(w.Probe)) {
			return
		}
	}
}

func sleep(ctx context.Context, clk clock.Clock, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

func period(p *v1.Probe) time.Duration {
	if p.PeriodSeconds > 0 {
		return time.Duration(p.PeriodSeconds) * time.Second
	}
	return 10 * time.Second
}

// threshold is v, or def (1 when not given) when v is unset.
func threshold(v int32, def ...int32) int {
	if v > 0 {
		return int(v)
	}
	if len(def) > 0 {
		return int(def[0])
	}
	return 1
}
