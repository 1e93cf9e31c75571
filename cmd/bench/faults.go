package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kinns/kinns/harness"
)

// Fault figures (issue 17): how long a lab takes from a fault to a client
// that is served again. Every fault is the harness's own, from the table
// that `lab fault` uses, in the fast timing profile; each figure is the
// median of faultRuns runs, in seconds.

// faultRuns is how many times each fault is measured; a node kill, which
// takes some 30 s a run, twice, to keep the whole within about 3 minutes.
const (
	faultRuns    = 3
	selfHealRuns = 2
)

// faultScenario breaks a lab once, measures, mends it and waits until it
// has settled; it returns its figures by name.
type faultScenario struct {
	run  func(ctx context.Context, f *faultLab) (map[string]float64, error)
	runs int
}

// faultGroup is the scenarios that run on one lab.
type faultGroup struct {
	cfg       harness.Config
	scenarios []faultScenario
}

// faultNames are the figures faultFigures returns.
var faultNames = []string{"self_heal_seconds", "self_heal_policy_seconds", "quorum_fail_seconds", "quorum_recover_seconds", "apiserver_failover_seconds", "leader_failover_seconds"}

// faultFigures measures self_heal_seconds, quorum_fail_seconds and
// quorum_recover_seconds on a lab with one API server (as the self-healing
// and quorum specs do), then apiserver_failover_seconds and
// leader_failover_seconds on one with three (as the HA spec does). Each lab
// is removed before it returns, also on error.
func faultFigures(ctx context.Context, labBinary string) (map[string]float64, error) {
	abs, err := filepath.Abs(labBinary)
	if err != nil {
		return nil, fmt.Errorf("lab binary %q: %w", labBinary, err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("bench", "faults")
	groups := []faultGroup{
		{harness.Config{Name: "faults", Nodes: 3, APIServers: 1}, []faultScenario{{selfHeal, selfHealRuns}, {quorumLoss, faultRuns}}},
		{harness.Config{Name: "faults-ha", Nodes: 2, APIServers: 3}, []faultScenario{{apiServerFailover, faultRuns}, {leaderFailover, faultRuns}}},
	}
	out := map[string]float64{}
	for _, g := range groups {
		g.cfg.LabBinary, g.cfg.Timing = abs, harness.TimingFast
		figs, err := onFaultLab(ctx, g, log)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, figs)
	}
	log.Info("fault figures done", "loadavg", loadAverage())
	return out, nil
}

// onFaultLab brings up g's lab, runs each scenario faultRuns times and
// returns the medians; the lab goes down in any case.
func onFaultLab(ctx context.Context, g faultGroup, log *slog.Logger) (_ map[string]float64, err error) {
	log = log.With("lab", g.cfg.Name)
	log.Info("lab up", "apiServers", g.cfg.APIServers, "nodes", g.cfg.Nodes, "loadavg", loadAverage())
	lab, err := harness.Up(ctx, g.cfg)
	if err != nil {
		return nil, fmt.Errorf("bring up lab %s: %w", g.cfg.Name, err)
	}
	defer func() {
		keepLogs(lab, log)
		if derr := lab.Down(context.WithoutCancel(ctx)); derr != nil {
			err = errors.Join(err, fmt.Errorf("remove lab %s: %w", g.cfg.Name, derr))
		}
	}()
	f, err := newFaultLab(lab, log)
	if err != nil {
		return nil, err
	}
	values := map[string][]float64{}
	for _, s := range g.scenarios {
		for run := range s.runs {
			figs, err := s.run(ctx, f)
			if err != nil {
				return nil, err
			}
			log.Info("fault run", "run", run+1, "figures", figs, "loadavg", loadAverage())
			for name, v := range figs {
				values[name] = append(values[name], v)
			}
		}
	}
	return medians(values), nil
}

// keepLogs copies the lab's logs into $KINNS_BENCH_LOGS/<lab>, if set, before
// the lab goes: the components' timestamps show where a figure's time went.
func keepLogs(lab *harness.Lab, log *slog.Logger) {
	dir := os.Getenv("KINNS_BENCH_LOGS")
	if dir == "" {
		return
	}
	dst := filepath.Join(dir, lab.Name())
	if err := lab.CopyLogs(dst); err != nil {
		log.Warn("keep the lab's logs", "dir", dst, "err", err)
		return
	}
	log.Info("kept the lab's logs", "dir", dst)
}

// faultLab is a lab under measurement: its admin clients and a log.
type faultLab struct {
	lab *harness.Lab
	// cs gives up on a request after clientTimeout, so that a request
	// caught on a connection to a dead API server does not hang a run.
	cs kubernetes.Interface
	// writes gives up after writeTimeout: the short timeout of a client
	// that writes continuously.
	writes kubernetes.Interface
	log    *slog.Logger
	seq    int
}

const (
	clientTimeout = 5 * time.Second
	writeTimeout  = time.Second
	// writeEvery is the writing client's pace.
	writeEvery = 50 * time.Millisecond
	// pollEvery is how often a scenario looks at the cluster.
	pollEvery = 100 * time.Millisecond
)

func newFaultLab(lab *harness.Lab, log *slog.Logger) (*faultLab, error) {
	cs, err := timedClient(lab, clientTimeout)
	if err != nil {
		return nil, err
	}
	writes, err := timedClient(lab, writeTimeout)
	if err != nil {
		return nil, err
	}
	return &faultLab{lab: lab, cs: cs, writes: writes, log: log}, nil
}

// timedClient is an admin client whose every request gives up after timeout.
func timedClient(lab *harness.Lab, timeout time.Duration) (kubernetes.Interface, error) {
	rc, err := lab.RESTConfig()
	if err != nil {
		return nil, fmt.Errorf("client for lab %s: %w", lab.Name(), err)
	}
	rc.QPS, rc.Burst, rc.Timeout = 1000, 1000, timeout
	return kubernetes.NewForConfig(rc)
}

// next is a fresh object name.
func (f *faultLab) next(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s-%d", prefix, f.seq)
}

// inject carries out a fault or a mend written as `lab fault` takes it
// ("node kill node-3"), and logs how long the harness took.
func (f *faultLab) inject(ctx context.Context, fault string) error {
	w := strings.Fields(fault)
	start := time.Now()
	if err := f.lab.Inject(ctx, harness.Fault{Target: w[0], Action: w[1], Args: w[2:]}); err != nil {
		return fmt.Errorf("lab fault %s: %w", fault, err)
	}
	f.log.Info("injected", "fault", fault, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// poll calls done every pollEvery until it reports true or fails, or
// timeout passes; what says what was awaited.
func poll(ctx context.Context, what string, timeout time.Duration, done func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ok, err := done(ctx)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: not after %s: %w", what, timeout, ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}

// medians is the median of each name's values.
func medians(values map[string][]float64) map[string]float64 {
	out := make(map[string]float64, len(values))
	for name, v := range values {
		out[name] = median(v)
	}
	return out
}

// loadAverage is the host's /proc/loadavg, for the log: figures on a busy
// 2-core host need it beside them.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown: " + err.Error()
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// seconds since start, rounded to the millisecond.
func secondsSince(start, t time.Time) float64 {
	return t.Sub(start).Round(time.Millisecond).Seconds()
}
