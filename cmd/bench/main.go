// Command bench measures kinns labs and prints a table; with -json it also writes
// the figures for tooling. Speed goals live here, never in tests. It needs root.
//
//	go run ./cmd/bench -runs 5 -json _output/bench.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/kinns/kinns/harness"
	"github.com/kinns/kinns/harness/containerd"
	"github.com/kinns/kinns/harness/proc"
)

// Result is one measured scenario.
type Result struct {
	Name   string    `json:"name"`
	Unit   string    `json:"unit"`
	Runs   int       `json:"runs"`
	P50    float64   `json:"p50"`
	P90    float64   `json:"p90"`
	P99    float64   `json:"p99"`
	Max    float64   `json:"max"`
	Values []float64 `json:"values"`
}

func main() {
	runs := flag.Int("runs", 5, "runs per scenario")
	jsonOut := flag.String("json", "", "also write results as JSON to this file")
	lab := flag.String("lab", "_output/bin/lab", "path of the lab binary (runs the components)")
	only := flag.String("only", "", `"upstream": only the comparisons with upstream Kubernetes`)
	flag.Parse()
	var err error
	switch *only {
	case "":
		err = run(context.Background(), *runs, *jsonOut, *lab)
	case "upstream":
		err = runUpstream(context.Background(), *runs, *lab)
	default:
		err = fmt.Errorf("-only %q: want \"upstream\" or nothing", *only)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, runs int, jsonOut, labBinary string) error {
	release, err := holdContainerd(ctx)
	if err != nil {
		return err
	}
	defer release()
	var results []Result
	for _, nodes := range []int{3, 20} {
		up, down, err := topologyUpDown(ctx, nodes, runs)
		if err != nil {
			return err
		}
		results = append(results, up, down)
	}
	api, err := controlPlane(ctx, labBinary, runs)
	if err != nil {
		return err
	}
	results = append(results, api...)
	sync, err := proxyFullSync(ctx, 1000, 10, 3)
	if err != nil {
		return err
	}
	results = append(results, sync...)
	print(results)
	if jsonOut == "" {
		return nil
	}
	b, _ := json.MarshalIndent(results, "", "  ")
	return os.WriteFile(jsonOut, b, 0o644)
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
		return nil, err
	}
	return func() { d.Release(context.Background(), holder) }, nil
}

// topology times harness.Up and Down of a lab with the given number of nodes: the
// namespaces, veths, bridges, addresses, routes and containerd namespaces.
func topologyUpDown(ctx context.Context, nodes, runs int) (Result, Result, error) {
	up := Result{Name: fmt.Sprintf("topology up, %d nodes", nodes), Unit: "ms", Runs: runs}
	down := Result{Name: fmt.Sprintf("topology down, %d nodes", nodes), Unit: "ms", Runs: runs}
	for i := 0; i < runs; i++ {
		t := time.Now()
		lab, err := harness.Up(ctx, harness.Config{Name: fmt.Sprintf("bench-%d", i), Nodes: nodes, NetworkOnly: true})
		if err != nil {
			return up, down, err
		}
		up.Values = append(up.Values, ms(time.Since(t)))
		t = time.Now()
		if err := lab.Down(ctx); err != nil {
			return up, down, err
		}
		down.Values = append(down.Values, ms(time.Since(t)))
	}
	return summarise(up), summarise(down), nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func summarise(r Result) Result {
	v := append([]float64(nil), r.Values...)
	sort.Float64s(v)
	r.P50, r.P90, r.P99, r.Max = v[len(v)/2], v[(len(v)*9)/10], v[(len(v)*99)/100], v[len(v)-1]
	return r
}

func print(rs []Result) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\truns\tp50\tp90\tp99\tmax\tunit\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%s\t\n", r.Name, r.Runs, r.P50, r.P90, r.P99, r.Max, r.Unit)
	}
	tw.Flush()
}
