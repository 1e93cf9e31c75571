package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kinns/kinns/harness"
)

// runUpstream runs the comparisons with upstream Kubernetes alone, with
// ours beside them: the proxy's full sync, then scheduling on one lab. It
// is wired here until the figures join the bench's table.
func runUpstream(ctx context.Context, runs int, labBinary string) error {
	release, err := holdContainerd(ctx)
	if err != nil {
		return err
	}
	defer release()
	ours, err := proxyFullSync(ctx, 1000, 10, runs)
	if err != nil {
		return err
	}
	print(ours)
	figures, err := upstreamProxySync(ctx, 1000, 10, runs)
	if err != nil {
		return err
	}
	sched, err := upstreamSchedulingOnLab(ctx, labBinary)
	if err != nil {
		return err
	}
	for k, v := range sched {
		figures[k] = v
	}
	printFigures(figures)
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("load average: %s", load)
	return nil
}

func upstreamSchedulingOnLab(ctx context.Context, labBinary string) (map[string]float64, error) {
	abs, err := filepath.Abs(labBinary)
	if err != nil {
		return nil, err
	}
	lab, err := harness.Up(ctx, harness.Config{Name: "bench-up", Nodes: 3, APIServers: 1, LabBinary: abs})
	if err != nil {
		return nil, err
	}
	defer lab.Down(context.Background())
	return upstreamScheduling(ctx, lab, 500, 10)
}

func printFigures(figures map[string]float64) {
	var names []string
	for k := range figures {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Printf("%-45s %s\n", k, strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", figures[k]), "0"), "."))
	}
}
