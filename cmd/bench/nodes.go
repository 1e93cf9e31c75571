package main

import (
	"context"
	"fmt"
	"time"

	"github.com/kinns/kinns/harness"
	"github.com/kinns/kinns/harness/topology"
)

var nodesNames = []string{"nodes_max", "rss_per_node_mb", "rss_20_nodes_mb", "pss_per_node_mb", "pss_20_nodes_mb", "rss_node_start_mb"}

// teardownReserve is kept from the budget for taking the last lab down.
const teardownReserve = time.Minute

// nodeScale boots 20 nodes and takes their memory (the 20-node side of
// rss_per_node_mb), then boots ever larger labs, 10 nodes more each time,
// while the budget allows one more bring-up, until one fails or the
// topology's maximum is reached. nodes_max is the most that came up with
// every node Ready (3, from the warm labs, if 20 did not).
func (b *bench) nodeScale(ctx context.Context) (Figures, error) {
	figs := Figures{}
	if start, err := nodeStartRSS(ctx, b.opts.labBinary); err != nil {
		b.res.note("rss_node_start_mb: %s", oneLine(err.Error()))
	} else {
		figs["rss_node_start_mb"] = start
	}
	if _, ok := b.res.Figures["lab_up_warm_seconds"]; ok {
		figs["nodes_max"] = 3
	}
	var m20 memory
	var rssErr error
	took, err := b.upAt(ctx, 20, func(l *harness.Lab) { m20, rssErr = b.labRSS(l, "20 nodes") })
	if err != nil {
		return figs, fmt.Errorf("20 nodes: %w", err)
	}
	figs["nodes_max"] = 20
	figs, err = b.searchUp(ctx, figs, 20, took)
	rss3, ok := b.res.Figures["rss_3_nodes_mb"]
	switch {
	case rssErr != nil:
		err = fmt.Errorf("memory at 20 nodes: %w", rssErr)
	case !ok:
		err = fmt.Errorf("no memory figure at 3 nodes: %s", b.res.Missing["rss_3_nodes_mb"])
	default:
		figs["rss_20_nodes_mb"], figs["rss_per_node_mb"] = m20.rss, (m20.rss-rss3)/17
		figs["pss_20_nodes_mb"], figs["pss_per_node_mb"] = m20.pss, (m20.pss-b.res.Figures["pss_3_nodes_mb"])/17
	}
	return figs, err
}

// searchUp tries larger labs from last (which took took) while the next
// bring-up, estimated at twice the last one's time per node, fits in
// what is left of the budget.
func (b *bench) searchUp(ctx context.Context, figs Figures, last int, took time.Duration) (Figures, error) {
	for n := min(last+10, topology.MaxNodes); n > last; n = min(n+10, topology.MaxNodes) {
		need := 2 * took * time.Duration(n) / time.Duration(last)
		if left := time.Until(b.deadline) - teardownReserve; need > left {
			b.res.note("nodes_max: %d nodes not tried: about %s needed, %s of the budget left", n, need.Round(time.Second), left.Round(time.Second))
			return figs, nil
		}
		t, err := b.upAt(ctx, n, nil)
		if err != nil {
			b.res.note("nodes_max: %d nodes did not come up: %s", n, oneLine(err.Error()))
			return figs, nil
		}
		figs["nodes_max"], last, took = float64(n), n, t
	}
	b.res.note("nodes_max: the topology's maximum, %d nodes, came up", last)
	return figs, nil
}

// upAt brings up a lab of n nodes, calls with on it if not nil, and takes
// it down; it returns how long the bring-up took.
func (b *bench) upAt(ctx context.Context, n int, with func(*harness.Lab)) (time.Duration, error) {
	cfg := b.labConfig(fmt.Sprintf("bench-n%d", n))
	cfg.Nodes = n
	t := time.Now()
	l, err := harness.Up(ctx, cfg)
	if err != nil {
		return 0, err
	}
	took := time.Since(t)
	defer b.down(l)
	b.res.note("nodes: %d nodes Ready in %.1f s", n, took.Seconds())
	if with != nil {
		with(l)
	}
	return took, nil
}
