package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kinns/kinns/harness"
)

// labScenario measures figures on the warm lab (3 nodes, 1 API server);
// the scenarios run in the order of labScenarios, on one lab.
type labScenario struct {
	what  string
	names []string
	run   func(context.Context, *harness.Lab) (Figures, error)
}

var labScenarios = []labScenario{
	{"ctr run burst", []string{"ctr_run_p50_seconds", "ctr_run_p99_seconds"}, func(ctx context.Context, l *harness.Lab) (Figures, error) { return ctrBurst(ctx, l, 30) }},
	{"pod start-up", []string{"pod_startup_p50_seconds", "pod_startup_p99_seconds"}, func(ctx context.Context, l *harness.Lab) (Figures, error) { return podStartup(ctx, l, 30) }},
	{"API latency", apiNames, apiLatency},
	{"network programming", []string{"network_programming_p50_seconds", "network_programming_p99_seconds"}, func(ctx context.Context, l *harness.Lab) (Figures, error) { return networkProgramming(ctx, l, 30) }},
	{"DNS", []string{"dns_p99_seconds"}, func(ctx context.Context, l *harness.Lab) (Figures, error) { return dnsLatency(ctx, l, 200) }},
	// Last: it cordons the real nodes and leaves 500 pods on fake ones.
	// Ours, then the upstream kube-scheduler, on the same fake nodes.
	{"scheduling", []string{"scheduling_pods_per_second", "scheduling_pods_per_second_upstream", "scheduling_vs_upstream_ratio"},
		func(ctx context.Context, l *harness.Lab) (Figures, error) { return upstreamScheduling(ctx, l, 500, 10) }},
}

// labFigures times the warm bring-up, keeps the last lab, takes its memory
// at once (the 3-node side of rss_per_node_mb), then runs every lab
// scenario on it, and takes it down.
func (b *bench) labFigures(ctx context.Context) {
	var lab *harness.Lab
	var noLab error
	if !b.selected("lab up warm") && b.selectedAny(labScenarios) {
		// Another lab scenario was chosen with -only: one lab, not measured.
		l, err := harness.Up(ctx, b.labConfig("bench-w0"))
		if err != nil {
			noLab = fmt.Errorf("lab up: %w", err)
		}
		lab = l
	}
	b.measure(ctx, "lab up warm", []string{"lab_up_warm_seconds", "apiserver_ready_seconds", "rss_3_nodes_mb", "pss_3_nodes_mb"}, func(ctx context.Context) (Figures, error) {
		took, api, l, err := b.upTimes(ctx, "bench-w", 1, b.opts.runs)
		if err != nil {
			return nil, err
		}
		lab = l
		b.res.note("lab_up_warm_seconds: runs %s; the API server's own start to /readyz in them: %s", list(took), list(api))
		figs := Figures{"lab_up_warm_seconds": median(took), "apiserver_ready_seconds": median(api)}
		m, err := b.labRSS(l, "3 nodes")
		if err != nil {
			return figs, fmt.Errorf("memory at 3 nodes: %w", err)
		}
		figs["rss_3_nodes_mb"], figs["pss_3_nodes_mb"] = m.rss, m.pss
		return figs, nil
	})
	if lab == nil && noLab == nil {
		noLab = fmt.Errorf("no lab: %s", b.res.Missing["lab_up_warm_seconds"])
	}
	if lab != nil {
		defer b.down(lab)
	}
	for _, s := range labScenarios {
		b.measure(ctx, s.what, s.names, func(ctx context.Context) (Figures, error) {
			if lab == nil {
				return nil, noLab
			}
			return s.run(ctx, lab)
		})
	}
}

// selectedAny says whether -only lets any of scenarios run.
func (b *bench) selectedAny(scenarios []labScenario) bool {
	for _, s := range scenarios {
		if b.selected(s.what) {
			return true
		}
	}
	return false
}

// labUpHA times the bring-up of labs with three API servers.
func (b *bench) labUpHA(ctx context.Context) (Figures, error) {
	took, api, l, err := b.upTimes(ctx, "bench-ha", 3, b.opts.runs)
	if err != nil {
		return nil, err
	}
	b.down(l)
	b.res.note("lab_up_ha_seconds: runs %s; the API servers' start to /readyz in them: %s", list(took), list(api))
	return Figures{"lab_up_ha_seconds": median(took), "apiserver_ready_ha_seconds": median(api)}, nil
}

// upTimes brings up runs labs of 3 nodes one after the other, each until
// harness.Up returns (every Node Ready and untainted in the API, DNS
// serving), and takes each down but the last, which it returns. Beside
// each bring-up's time it returns its apiserver step's: from the start of
// the API server(s) to /readyz.
func (b *bench) upTimes(ctx context.Context, prefix string, apiServers, runs int) (took, api []float64, last *harness.Lab, err error) {
	for i := range runs {
		cfg := b.labConfig(fmt.Sprintf("%s%d", prefix, i))
		cfg.APIServers = apiServers
		t := time.Now()
		l, err := harness.Up(ctx, cfg)
		if err != nil {
			return took, api, nil, fmt.Errorf("run %d: %w", i+1, err)
		}
		took = append(took, seconds(time.Since(t)))
		if d, ok := b.steps.last("apiserver"); ok {
			api = append(api, seconds(d))
		}
		if i == runs-1 {
			return took, api, l, nil
		}
		b.down(l)
	}
	return took, api, nil, fmt.Errorf("no run")
}

// down takes a lab down even when the bench's context has ended, so that
// an interrupted bench leaves nothing behind.
func (b *bench) down(l *harness.Lab) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t := time.Now()
	if err := l.Down(ctx); err != nil {
		b.log.Error("lab down failed", "lab", l.Name(), "err", err)
		b.res.note("lab %s: down failed: %v (run `lab down --name %s`)", l.Name(), err, l.Name())
		return
	}
	b.log.Info("lab down", "lab", l.Name(), "took", time.Since(t).Round(time.Millisecond))
}

func list(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, num(x))
	}
	return strings.Join(s, ", ") + " s"
}
