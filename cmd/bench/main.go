// Command bench measures kinns labs and prints one table of named figures
// (issue 17), each with its goal on a 2-core machine, its floor and its
// reference; with -json it also writes them as one flat JSON object
// name -> number. Speed goals live here, never in tests. It needs root.
//
//	go run ./cmd/bench -lab _output/bin/lab -json _output/bench.json
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/kinns/kinns/harness"
	"github.com/kinns/kinns/harness/containerd"
	"github.com/kinns/kinns/harness/proc"
)

// options are the command's flags.
type options struct {
	runs      int
	jsonOut   string
	labBinary string
	e2eReport string
	labLog    string
	budget    time.Duration
	// only, when set, selects the scenarios to run by their name.
	only *regexp.Regexp
}

func main() {
	var o options
	flag.IntVar(&o.runs, "runs", 5, "bring-ups per lab_up figure (the median is reported)")
	flag.StringVar(&o.jsonOut, "json", "", "also write the figures as a JSON object to this file")
	flag.StringVar(&o.labBinary, "lab", "_output/bin/lab", "path of the lab binary (runs the components)")
	flag.StringVar(&o.e2eReport, "e2e-report", "_output/e2e.json", "the Ginkgo JSON report of the last make e2e")
	flag.StringVar(&o.labLog, "lab-log", "", "write the labs' own logs (each bring-up step and its time) to this file")
	flag.DurationVar(&o.budget, "budget", 13*time.Minute, "the most the whole bench may take; the node search uses what is left")
	only := flag.String("only", "", "run only the scenarios whose name matches this regular expression (e.g. 'scheduling|DNS'); the lab scenarios still bring up one lab")
	flag.Parse()
	if err := o.validate(*only); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if err := printTable(os.Stdout, table, r); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if o.jsonOut != "" {
		if err := writeJSON(o.jsonOut, r.Figures); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

func (o *options) validate(only string) error {
	if only != "" {
		re, err := regexp.Compile(only)
		if err != nil {
			return fmt.Errorf("invalid -only %q: %w", only, err)
		}
		o.only = re
	}
	if o.runs < 1 {
		return fmt.Errorf("invalid -runs %d: at least 1", o.runs)
	}
	if o.budget < time.Minute {
		return fmt.Errorf("invalid -budget %s: at least 1m", o.budget)
	}
	abs, err := filepath.Abs(o.labBinary)
	if err != nil {
		return fmt.Errorf("lab binary %q: %w", o.labBinary, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("lab binary: %w (run make build first)", err)
	}
	o.labBinary = abs
	return nil
}

// bench is one run: its options, its deadline and what it found.
type bench struct {
	opts     options
	deadline time.Time
	res      *Result
	log      *slog.Logger
	// labLog is given to every lab the bench brings up; steps keeps the
	// time of each lab's bring-up steps from it.
	labLog *slog.Logger
	steps  *stepClock
	// scenarios are the names of the scenarios met so far, ran how many
	// of them -only let run.
	scenarios []string
	ran       int
}

// run measures every figure it can within the budget. A scenario that
// fails leaves its figures out, with why; run itself fails only when
// nothing can be measured at all.
func run(ctx context.Context, o options) (*Result, error) {
	b := &bench{opts: o, deadline: time.Now().Add(o.budget), res: newResult(),
		log: slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "bench"), labLog: slog.New(slog.DiscardHandler)}
	if o.labLog != "" {
		f, err := os.Create(o.labLog)
		if err != nil {
			return nil, fmt.Errorf("lab log: %w", err)
		}
		defer f.Close()
		b.labLog = slog.New(slog.NewTextHandler(f, nil))
	}
	b.steps = &stepClock{}
	b.labLog = slog.New(stepHandler{b.labLog.Handler(), b.steps})
	ctx, cancel := context.WithDeadline(ctx, b.deadline)
	defer cancel()
	release, err := holdContainerd(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	b.labFigures(ctx)
	b.measure(ctx, "proxy full sync", proxyNames, func(ctx context.Context) (Figures, error) { return proxyFullSync(ctx, 1000, 10, 3) })
	b.measure(ctx, "upstream proxy full sync", []string{"proxy_full_sync_upstream_1000x10_seconds"}, func(ctx context.Context) (Figures, error) {
		return upstreamProxySync(ctx, 1000, 10, 3)
	})
	b.measure(ctx, "lab up HA", []string{"lab_up_ha_seconds", "apiserver_ready_ha_seconds"}, b.labUpHA)
	b.measure(ctx, "faults", faultNames, func(ctx context.Context) (Figures, error) { return faultFigures(ctx, o.labBinary) })
	b.measure(ctx, "nodes", nodesNames, b.nodeScale)
	b.measure(ctx, "e2e report", []string{"e2e_suite_seconds"}, func(context.Context) (Figures, error) { return e2eSuite(o.e2eReport) })
	if b.ran == 0 && o.only != nil {
		return nil, fmt.Errorf("-only %q matches no scenario; they are: %s", o.only, strings.Join(b.scenarios, ", "))
	}
	return b.res, nil
}

// measure runs one scenario and records its figures, or why it has none,
// and how long it took.
func (b *bench) measure(ctx context.Context, what string, names []string, f func(context.Context) (Figures, error)) {
	b.scenarios = append(b.scenarios, what)
	if !b.selected(what) {
		b.res.fail(names, fmt.Errorf("not run: -only %s", b.opts.only))
		return
	}
	b.ran++
	if err := ctx.Err(); err != nil {
		b.res.fail(names, fmt.Errorf("not run: %w", context.Cause(ctx)))
		return
	}
	b.log.Info("scenario", "name", what)
	t := time.Now()
	figs, err := f(ctx)
	b.res.add(figs)
	if err != nil {
		b.log.Error("scenario failed", "name", what, "err", err)
		b.res.fail(names, err)
	}
	b.res.note("time: %s took %.1f s", what, time.Since(t).Seconds())
}

// selected says whether -only lets the scenario what run.
func (b *bench) selected(what string) bool {
	return b.opts.only == nil || b.opts.only.MatchString(what)
}

// labConfig is a lab of the bench: 3 nodes and one API server unless
// changed.
func (b *bench) labConfig(name string) harness.Config {
	return harness.Config{Name: name, Nodes: 3, APIServers: 1, LabBinary: b.opts.labBinary, Log: b.labLog}
}

// holdContainerd starts the shared containerd first, so that its own start-up is
// not counted in any scenario.
func holdContainerd(ctx context.Context) (func(), error) {
	self, err := proc.Self()
	if err != nil {
		return nil, err
	}
	d := containerd.NewDaemon(harness.StateRoot(), nil)
	holder := fmt.Sprintf("bench-%d", self.PID)
	if _, err := d.Acquire(ctx, holder, self); err != nil {
		return nil, fmt.Errorf("start the shared containerd: %w", err)
	}
	return func() { d.Release(context.Background(), holder) }, nil
}

func seconds(d time.Duration) float64 { return d.Seconds() }
