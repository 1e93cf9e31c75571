package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
)

// Figures are measured values by name (the names of the table below). An
// alias, so that a scenario may return a plain map[string]float64.
type Figures = map[string]float64

// Goal is what a figure should be on this 2-core machine: Op "<=" or ">="
// against Bound, or against Bound times the figure named Times (a goal
// relative to a floor); Op "" is a figure only reported.
type Goal struct {
	Op    string
	Bound float64
	Times string
}

// Row is one named figure of `make bench`.
type Row struct {
	Name string
	What string
	Unit string
	Goal Goal
	// Floor names another figure that bounds this one on this machine
	// (what the same work costs without Kubernetes, or what a policy
	// sets): from below for a time, from above for a rate. FloorWhat says
	// what it is.
	Floor, FloorWhat string
	Reference        string
}

// report is a figure only reported, with no goal.
var report = Goal{}

func atMost(b float64) Goal  { return Goal{Op: "<=", Bound: b} }
func atLeast(b float64) Goal { return Goal{Op: ">=", Bound: b} }

// table is issue 17's list of figures, in the order printed.
var table = []Row{
	{Name: "lab_up_warm_seconds", Unit: "s", Goal: atMost(2),
		Floor: "apiserver_ready_seconds", FloorWhat: "the upstream kube-apiserver's own start to /readyz, which every later step waits for",
		What:      "lab up: 3 etcd members, 1 API server, control plane, 3 Ready nodes, image cached; median of 5",
		Reference: "kind 33 s, k3d 19.9 s, minikube 50.8 s to a working one-node cluster (minikube time-to-k8s)"},
	{Name: "lab_up_ha_seconds", Unit: "s", Goal: atMost(3),
		Floor: "apiserver_ready_ha_seconds", FloorWhat: "the three kube-apiservers' start to /readyz",
		What: "the same with three API servers behind the VIP; median of 5"},
	{Name: "apiserver_ready_seconds", Unit: "s", Goal: report,
		What: "in those bring-ups, the API server's step: process start to /readyz (about 1.5 s to serve, then its RBAC and priority-class hooks, each of which waits 1 s before its first try)"},
	{Name: "apiserver_ready_ha_seconds", Unit: "s", Goal: report, What: "the same with three API servers"},
	{Name: "pod_startup_p50_seconds", Unit: "s", Goal: report, Floor: "ctr_run_p50_seconds", FloorWhat: "plain ctr run --rm, same burst",
		What: "pod creation -> Running seen by a watch, burst of 30 pods over 3 nodes, p50"},
	{Name: "pod_startup_p99_seconds", Unit: "s", Goal: atMost(1), Floor: "ctr_run_p99_seconds", FloorWhat: "plain ctr run --rm, same burst",
		What: "the same, p99", Reference: "Kubernetes SLO p99 <= 5 s"},
	{Name: "ctr_run_p50_seconds", Unit: "s", Goal: report,
		What: "30 concurrent `ctr run --rm` of the test image on the lab's containerd, p50: the machine's floor"},
	{Name: "ctr_run_p99_seconds", Unit: "s", Goal: report, What: "the same, p99"},
	{Name: "api_mutating_p99_seconds", Unit: "s", Goal: atMost(0.025),
		What:      "ConfigMap creates at a fixed (open-loop) 100/s for 10 s, from the scheduled send, p99",
		Reference: "Kubernetes SLO p99 <= 1 s"},
	{Name: "api_get_p99_seconds", Unit: "s", Goal: report,
		What: "ConfigMap gets at a fixed 100/s for 10 s, p99", Reference: "Kubernetes SLO p99 <= 1 s"},
	{Name: "api_list_1000_seconds", Unit: "s", Goal: report,
		What: "a list of 1,000 ConfigMaps of one namespace, median of 5", Reference: "Kubernetes SLO p99 <= 5 s for a namespace-scoped list"},
	{Name: "watch_delivery_p99_seconds", Unit: "s", Goal: report,
		What: "create sent -> its ADDED event at a watcher, during the 100/s creates, p99"},
	{Name: "scheduling_pods_per_second", Unit: "pods/s", Goal: atLeast(300),
		Floor: "scheduling_bind_floor_pods_per_second", FloorWhat: "the bench's own bindings, no scheduler: the API server's pace bounds any scheduler from above",
		What:      "a backlog of 500 pods on 10 API-only nodes (made while the scheduler is paused), bound after the first / first to last binding; median of 3 rounds",
		Reference: "kube-scheduler ~100-150 pods/s at 5,000 nodes; scheduler_perf thresholds 680-810 pods/s"},
	{Name: "scheduling_pods_per_second_upstream", Unit: "pods/s", Goal: report,
		What: "the same with the upstream kube-scheduler v1.37.2 (default profile, same client QPS), right after ours"},
	{Name: "scheduling_vs_upstream_ratio", Unit: "x", Goal: atLeast(1.5),
		What:      "ours / upstream kube-scheduler v1.37.2, same 500 pods, same lab, same run; at most floor / upstream",
		Reference: "upstream kube-scheduler v1.37.2"},
	{Name: "scheduling_bind_floor_pods_per_second", Unit: "pods/s", Goal: report,
		What: "the same backlog bound by the bench itself (16 bindings in flight, as our scheduler's bind workers), no scheduler"},
	{Name: "network_programming_p50_seconds", Unit: "s", Goal: report,
		What: "EndpointSlice change -> DNAT rule on every node (iptables-save polled every 5 ms), 30 changes, p50"},
	{Name: "network_programming_p99_seconds", Unit: "s", Goal: atMost(0.3),
		What: "the same, p99", Reference: "kube-proxy p50 ~5 s at 5,000 nodes (KEP-3453)"},
	{Name: "proxy_full_sync_1000x10_seconds", Unit: "s", Goal: Goal{Op: "<=", Bound: 1.5, Times: "iptables_restore_1000x10_seconds"},
		Floor: "iptables_restore_1000x10_seconds", FloorWhat: "plain iptables-restore of the same rules",
		What:      "one full proxy sync (read tables, render, one restore) of 1,000 Services x 10 endpoints into an empty namespace, median of 3",
		Reference: "upstream kube-proxy iptables proxier, same run"},
	{Name: "proxy_full_sync_upstream_1000x10_seconds", Unit: "s", Goal: report,
		What: "upstream kube-proxy v1.37.2's iptables proxier: its first full sync of the same Services in an empty namespace, median of 3"},
	{Name: "iptables_restore_1000x10_seconds", Unit: "s", Goal: report,
		What: "a plain iptables-restore of the same rules into an empty namespace, median of 3"},
	{Name: "dns_p99_seconds", Unit: "s", Goal: report,
		What: "A query of kubernetes.default.svc.cluster.local from a pod's namespace to kube-dns, 200 queries, p99"},
	{Name: "self_heal_seconds", Unit: "s", Goal: atMost(10), What: "a node killed -> its pods Running elsewhere",
		Floor: "self_heal_policy_seconds", FloorWhat: "the fast profile's wait before eviction: node grace 5 s after the last heartbeat (up to 1 s before the kill) + tolerationSeconds 2 s",
		Reference: "Kubernetes defaults ~350 s (40 s grace + 300 s eviction)"},
	{Name: "self_heal_policy_seconds", Unit: "s", Goal: report, What: "node monitor grace - lease renewal interval + unreachable tolerationSeconds, fast profile"},
	{Name: "quorum_fail_seconds", Unit: "s", Goal: atMost(2), What: "etcd quorum lost -> writes refused",
		Reference: "etcd request timeout 7 s"},
	{Name: "quorum_recover_seconds", Unit: "s", Goal: atMost(3), What: "quorum restored -> writes accepted"},
	{Name: "apiserver_failover_seconds", Unit: "s", Goal: report, What: "an API server stopped -> requests served by another"},
	{Name: "leader_failover_seconds", Unit: "s", Goal: report, What: "the leading scheduler/controller manager lost -> another leads"},
	{Name: "nodes_max", Unit: "nodes", Goal: atLeast(20),
		What:      "the most nodes lab up (1 API server) booted all Ready, searched upward from 20 within the bench's budget",
		Reference: "kind: 20 workers failed on host limits (kind#904)"},
	{Name: "rss_per_node_mb", Unit: "MiB", Goal: atMost(40),
		What:      "(RSS of the lab's processes at 20 nodes - at 3 nodes) / 17, no pods, each right after lab up; RSS counts a binary's shared pages in every process that maps them",
		Reference: "k3s agent ~275 MB, kubemark hollow node 220 MB",
		Floor:     "rss_node_start_mb", FloorWhat: "a node's lab-kubelet and lab-proxy just started, before any work: what Go's start-up maps of each binary"},
	{Name: "rss_node_start_mb", Unit: "MiB", Goal: report,
		What: "RSS of lab-kubelet + lab-proxy started alone, waiting for their config (the runtime and package initialisers only)"},
	{Name: "rss_3_nodes_mb", Unit: "MiB", Goal: report,
		What: "summed RSS of the lab's processes at 3 nodes: components of lab status, their descendants, the shims of its nodes' containerd namespaces"},
	{Name: "rss_20_nodes_mb", Unit: "MiB", Goal: report, What: "the same at 20 nodes"},
	{Name: "pss_per_node_mb", Unit: "MiB", Goal: report,
		What: "as rss_per_node_mb with PSS (shared pages divided among the processes that map them)"},
	{Name: "pss_3_nodes_mb", Unit: "MiB", Goal: report, What: "summed PSS at 3 nodes"},
	{Name: "pss_20_nodes_mb", Unit: "MiB", Goal: report, What: "summed PSS at 20 nodes"},
	{Name: "e2e_suite_seconds", Unit: "s", Goal: report, What: "the whole make e2e (Ginkgo run time in _output/e2e.json)"},
}

// notWritten says why a figure of the table that no scenario of this
// build measures is missing.
const notWritten = "no scenario of this build measures it yet"

// Result is what a bench run found: figures, why others are missing, and
// notes on how figures were obtained.
type Result struct {
	Figures Figures
	Missing map[string]string
	Notes   []string
}

func newResult() *Result {
	return &Result{Figures: Figures{}, Missing: map[string]string{}}
}

// add merges a scenario's figures; a non-finite value is not a figure.
func (r *Result) add(f Figures) {
	for k, v := range f {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			r.Missing[k] = "the scenario gave no finite value"
			continue
		}
		r.Figures[k] = v
		delete(r.Missing, k)
	}
}

// fail marks each of names that has no figure as not measured, for why.
func (r *Result) fail(names []string, why error) {
	for _, n := range names {
		if _, ok := r.Figures[n]; !ok {
			r.Missing[n] = why.Error()
		}
	}
}

func (r *Result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// verdict says whether a figure meets its goal: "met", "missed",
// "report", or why it cannot say.
func (g Goal) verdict(v float64, figs Figures) string {
	if g.Op == "" {
		return "report"
	}
	bound := g.Bound
	if g.Times != "" {
		f, ok := figs[g.Times]
		if !ok {
			return "no floor"
		}
		bound *= f
	}
	ok := v <= bound
	if g.Op == ">=" {
		ok = v >= bound
	}
	if ok {
		return "met"
	}
	return "missed"
}

func (g Goal) String() string {
	if g.Op == "" {
		return "report"
	}
	if g.Times != "" {
		return fmt.Sprintf("%s %s x %s", g.Op, num(g.Bound), g.Times)
	}
	return fmt.Sprintf("%s %s", g.Op, num(g.Bound))
}

// num prints a figure with three significant digits, or as a whole
// number from 1,000 up.
func num(v float64) string {
	if math.Abs(v) >= 1000 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// line is one printed row.
type line struct{ name, value, goal, verdict, floor, reference string }

// lines renders the table for a result: every row of the table, then any
// figure measured, or missing, that the table does not name.
func lines(rows []Row, r *Result) []line {
	var out []line
	named := map[string]bool{}
	for _, row := range rows {
		named[row.Name] = true
		out = append(out, rowLine(row, r))
	}
	var extra []string
	for k := range r.Figures {
		if !named[k] {
			extra = append(extra, k)
		}
	}
	for k := range r.Missing {
		if _, measured := r.Figures[k]; !named[k] && !measured {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		out = append(out, rowLine(Row{Name: k, Goal: report}, r))
	}
	return out
}

func rowLine(row Row, r *Result) line {
	l := line{name: row.Name, goal: row.Goal.String(), reference: row.Reference}
	if row.Floor != "" {
		l.floor = row.Floor + " (" + row.FloorWhat + ")"
		if f, ok := r.Figures[row.Floor]; ok {
			l.floor = fmt.Sprintf("%s %s: %s", num(f), row.Unit, l.floor)
		}
	}
	v, ok := r.Figures[row.Name]
	if !ok {
		why := r.Missing[row.Name]
		if why == "" {
			why = notWritten
		}
		l.value, l.verdict = "not measured: "+oneLine(why), "-"
		return l
	}
	l.value = strings.TrimSpace(num(v) + " " + row.Unit)
	l.verdict = row.Goal.verdict(v, r.Figures)
	return l
}

// oneLine keeps an error's text to one table cell.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// printTable writes the table, the notes, and what each row measures.
func printTable(w io.Writer, rows []Row, r *Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVALUE\tGOAL\tMET\tFLOOR\tREFERENCE")
	for _, l := range lines(rows, r) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.name, l.value, l.goal, l.verdict, l.floor, l.reference)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nWhat each figure is:")
	for _, row := range rows {
		fmt.Fprintf(w, "  %s: %s\n", row.Name, row.What)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "\nNotes:")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	return nil
}

// writeJSON writes the measured figures as one flat object name -> number;
// a figure not measured is left out.
func writeJSON(path string, figs Figures) error {
	b, err := json.MarshalIndent(figs, "", "  ")
	if err != nil {
		return fmt.Errorf("encode figures: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("make folder for %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write figures: %w", err)
	}
	return nil
}

// percentile is the nearest-rank p-th quantile (0 < p <= 1) of v; NaN if v
// is empty.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func median(v []float64) float64 { return percentile(v, 0.5) }
