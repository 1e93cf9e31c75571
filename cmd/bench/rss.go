package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kinns/kinns/harness"
	"github.com/kinns/kinns/harness/topology"
)

// procInfo is what the bench reads of one process in /proc.
type procInfo struct {
	pid, ppid int
	argv      []string
	// rssKB counts every page mapped, shared ones (the lab binary's text,
	// which every component maps) in each process; pssKB shares each page
	// among the processes that map it.
	rssKB, pssKB float64
}

// labProcesses picks a lab's processes out of procs: its components
// (roots), the containerd shims that serve its nodes' containerd
// namespaces, and every descendant of either (containers, children).
func labProcesses(procs []procInfo, roots []int, namespaces []string) []procInfo {
	in := map[int]bool{}
	for _, pid := range roots {
		in[pid] = true
	}
	for _, p := range procs {
		if isShimOf(p.argv, namespaces) {
			in[p.pid] = true
		}
	}
	for grew := true; grew; {
		grew = false
		for _, p := range procs {
			if !in[p.pid] && in[p.ppid] {
				in[p.pid], grew = true, true
			}
		}
	}
	var out []procInfo
	for _, p := range procs {
		if in[p.pid] {
			out = append(out, p)
		}
	}
	return out
}

// isShimOf reports whether argv is a containerd shim's serving one of the
// namespaces (`containerd-shim-runc-v2 -namespace NS -id …`).
func isShimOf(argv, namespaces []string) bool {
	if len(argv) == 0 || !strings.HasPrefix(filepath.Base(argv[0]), "containerd-shim") {
		return false
	}
	i := slices.Index(argv, "-namespace")
	return i >= 0 && i+1 < len(argv) && slices.Contains(namespaces, argv[i+1])
}

// readProcs reads every process's parent, command line and VmRSS; a
// process that ends while it is read is left out.
func readProcs() ([]procInfo, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}
	var out []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, err := readProc(pid); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

func readProc(pid int) (procInfo, error) {
	p := procInfo{pid: pid}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "PPid:":
			p.ppid, _ = strconv.Atoi(f[1])
		case "VmRSS:":
			p.rssKB, _ = strconv.ParseFloat(f[1], 64)
		}
	}
	p.pssKB = readPss(pid)
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return p, err
	}
	p.argv = strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	return p, nil
}

// readPss reads a process's Pss from smaps_rollup, 0 if it cannot.
func readPss(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Pss:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb
		}
	}
	return 0
}

// memory is a lab's summed RSS and PSS in MiB.
type memory struct{ rss, pss float64 }

// labRSS is the summed RSS and PSS of a lab's processes: each component
// that lab status lists (etcd members, API server, scheduler, controller
// manager, cloud, DNS, apilb, forwarder, each node's kubelet and proxy),
// the containerd shims of its nodes and all their descendants. Not
// counted: the supervisor (here the bench process itself) and the
// containerd daemon, which every lab shares.
func (b *bench) labRSS(l *harness.Lab, when string) (memory, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var roots []int
	for _, c := range l.Status(ctx).Components {
		if c.Running && c.PID > 0 {
			roots = append(roots, c.PID)
		}
	}
	if len(roots) == 0 {
		return memory{}, fmt.Errorf("lab %s lists no running component", l.Name())
	}
	var namespaces []string
	for _, n := range l.Plan().Nodes() {
		namespaces = append(namespaces, topology.ContainerdNamespace(l.Name(), n.Name))
	}
	procs, err := readProcs()
	if err != nil {
		return memory{}, err
	}
	picked := labProcesses(procs, roots, namespaces)
	var m memory
	for _, p := range picked {
		m.rss += p.rssKB / 1024
		m.pss += p.pssKB / 1024
	}
	b.res.note("memory at %s: RSS %.0f MiB, PSS %.0f MiB, in %d processes (%d components, %d shims, containers or children)",
		when, m.rss, m.pss, len(picked), len(roots), len(picked)-len(roots))
	return m, nil
}

// nodeStartRSS is the floor of rss_per_node_mb: the RSS, in MiB, of a node's
// two processes (lab-kubelet and lab-proxy, beside the lab binary) once Go
// has started them and they wait to read their config, before they do any
// work. It is what their package initialisers and the runtime map: code
// and data of the binary, counted again in every process. Each is started
// with its config on a pipe the bench holds open, read once its RSS has
// stopped growing, and ended by closing the pipe.
func nodeStartRSS(ctx context.Context, labBinary string) (float64, error) {
	total := 0.0
	for _, kind := range []string{"kubelet", "proxy"} {
		bin := filepath.Join(filepath.Dir(labBinary), "lab-"+kind)
		kb, err := startRSS(ctx, bin, kind)
		if err != nil {
			return 0, fmt.Errorf("%s at its start: %w", filepath.Base(bin), err)
		}
		total += kb / 1024
	}
	return total, nil
}

func startRSS(ctx context.Context, bin, kind string) (float64, error) {
	cmd := exec.CommandContext(ctx, bin, "component", kind, "--config", "/dev/stdin")
	config, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { config.Close(); cmd.Wait() }() // it ends on the empty config
	last := -1.0
	for range 50 { // 5 s at most
		time.Sleep(100 * time.Millisecond)
		p, err := readProc(cmd.Process.Pid)
		if err != nil {
			return 0, err
		}
		if p.rssKB == last {
			return last, nil
		}
		last = p.rssKB
	}
	return 0, fmt.Errorf("its RSS still grew after 5 s (%.0f KiB)", last)
}
