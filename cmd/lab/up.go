package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	cloudconfig "github.com/kinns/kinns/controlplane/cloud/config"
	"github.com/kinns/kinns/harness"
	"github.com/kinns/kinns/harness/proc"
	"github.com/kinns/kinns/harness/state"
	"github.com/kinns/kinns/harness/topology"
	kubeletconfig "github.com/kinns/kinns/kubelet/config"
)

type upOptions struct {
	nodes             int
	controlPlanes     int
	timing            string
	containerdAddress string
	dnsUpstream       []string
	mirrors, insecure []string
	lbPool            string
	retain            bool
	imageGCHigh       int32
	imageGCLow        int32
}

func (o upOptions) config(g *globals) harness.Config {
	return harness.Config{Name: g.name, Nodes: o.nodes, APIServers: o.controlPlanes, Timing: o.timing,
		ContainerdAddress: o.containerdAddress, StateRoot: g.stateRoot, DNSUpstream: o.dnsUpstream, LoadBalancerPool: o.lbPool, Retain: o.retain,
		ImageGCHighPercent: &o.imageGCHigh, ImageGCLowPercent: &o.imageGCLow, RegistryMirrors: o.mirrors, InsecureRegistries: o.insecure}
}

func (o *upOptions) flags(cmd *cobra.Command) {
	cmd.Flags().IntVar(&o.nodes, "nodes", 3, "number of worker nodes")
	cmd.Flags().IntVar(&o.controlPlanes, "control-planes", 3, "API servers (with a scheduler and a controller manager each, one leading): 3, one per control-plane host behind the virtual IP 10.89.0.10, or 1 on cp-1 for the fastest labs")
	cmd.Flags().StringVar(&o.timing, "timing", harness.TimingFast, "timing profile: fast or kubernetes")
	cmd.Flags().StringVar(&o.containerdAddress, "containerd-address", "", "use the containerd listening on this socket instead of kinns' own")
	cmd.Flags().BoolVar(&o.retain, "retain", false, "keep a lab whose bring-up failed, for inspection (lab down removes it)")
	cmd.Flags().StringSliceVar(&o.dnsUpstream, "dns-upstream", nil, "resolvers (IP:53) the cluster DNS forwards other names to; none: they are refused")
	cmd.Flags().Int32Var(&o.imageGCHigh, "image-gc-high", kubeletconfig.DefaultImageGCHighThresholdPercent, "kubelets remove unused images once the disk holding them is this full (percent; 100: never)")
	cmd.Flags().Int32Var(&o.imageGCLow, "image-gc-low", kubeletconfig.DefaultImageGCLowThresholdPercent, "... until it is under this (percent)")
	cmd.Flags().StringArrayVar(&o.mirrors, "registry-mirror", nil, "pull REGISTRY's images through a mirror first, REGISTRY=URL (repeatable), such as docker.io=http://127.0.0.1:5000")
	cmd.Flags().StringArrayVar(&o.insecure, "insecure-registry", nil, "pull from HOST[:PORT] over plain HTTP or unverified TLS (repeatable); localhost and 127.0.0.1 registries need not be named")
	cmd.Flags().StringVar(&o.lbPool, "lb-pool", "", "range of LoadBalancer Service addresses on the fabric, FIRST-LAST (default "+cloudconfig.DefaultPool+")")
}

func newUpCmd(g *globals) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Boot a lab and leave it running in the background",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runUp(cmd.OutOrStdout(), g, *o) },
	}
	o.flags(cmd)
	return cmd
}

// Messages on the progress pipe from the supervisor to `lab up`.
const (
	msgStep  = "step "
	msgReady = "ready"
	msgError = "error "
)

// supervisorExit bounds how long `lab up` waits for a supervisor that
// reported a failed bring-up to exit: it has nothing left to do but exit.
const supervisorExit = 10 * time.Second

// runUp checks the request, starts the supervisor in the background and relays its
// progress until the lab is ready.
func runUp(out io.Writer, g *globals, o upOptions) error {
	start := time.Now()
	// The Go API reads 0 nodes as "the default"; on the command line it is an error.
	if _, err := topology.New(g.name, o.nodes); err != nil {
		return err
	}
	if o.controlPlanes != 1 && o.controlPlanes != topology.ControlPlaneHosts {
		return fmt.Errorf("--control-planes %d: use 1 (one API server on cp-1) or %d (one per control-plane host, behind %s)",
			o.controlPlanes, topology.ControlPlaneHosts, topology.APIVIP)
	}
	for _, u := range o.dnsUpstream {
		if _, err := netip.ParseAddrPort(u); err != nil {
			return fmt.Errorf("--dns-upstream %q: want IP:PORT, such as 192.0.2.53:53", u)
		}
	}
	if _, err := harness.RegistryHosts(o.mirrors, o.insecure); err != nil {
		return err
	}
	if o.lbPool != "" {
		if err := harness.CheckLoadBalancerPool(o.lbPool); err != nil {
			return fmt.Errorf("--lb-pool: %w", err)
		}
	}
	if err := checkImageGC(o); err != nil {
		return err
	}
	cfg := o.config(g)
	store, err := harness.Reserve(cfg)
	if err != nil {
		return err
	}
	child, progress, err := startSupervisor(store, g, o)
	if err != nil {
		store.Remove()
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		// Ctrl-C during bring-up: the supervisor aborts and removes what it made.
		<-sigs
		child.Signal(syscall.SIGTERM)
	}()
	err = relay(out, progress, start)
	switch {
	case errors.Is(err, errSupervisorDied):
		harness.Down(context.Background(), g.stateRoot, g.name, nil)
	case err != nil:
		// The supervisor reported its failure and is exiting: return once
		// it has, so that whoever runs `lab status` next finds the lab as
		// it is left (removed, or kept with --retain and no supervisor),
		// not its last moments (it was seen still running 22 ms after
		// `lab up` returned).
		proc.WaitGone(context.Background(), child, supervisorExit)
	}
	if err != nil {
		return err
	}
	printUsage(out, g, o, time.Since(start))
	return nil
}

func startSupervisor(store *state.Store, g *globals, o upOptions) (proc.ID, *os.File, error) {
	self, err := os.Executable()
	if err != nil {
		return proc.ID{}, nil, fmt.Errorf("find the lab binary: %w", err)
	}
	logf, err := os.OpenFile(store.Path("lab.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return proc.ID{}, nil, fmt.Errorf("open lab log: %w", err)
	}
	defer logf.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return proc.ID{}, nil, err
	}
	defer pw.Close()
	args := []string{"supervise", "--name", g.name, "--state-root", g.stateRoot,
		"--nodes", fmt.Sprint(o.nodes), "--control-planes", fmt.Sprint(o.controlPlanes), "--timing", o.timing, "--containerd-address", o.containerdAddress, "--progress-fd", "3"}
	for _, u := range o.dnsUpstream {
		args = append(args, "--dns-upstream", u)
	}
	if o.lbPool != "" {
		args = append(args, "--lb-pool", o.lbPool)
	}
	for _, m := range o.mirrors {
		args = append(args, "--registry-mirror", m)
	}
	for _, r := range o.insecure {
		args = append(args, "--insecure-registry", r)
	}
	if o.retain {
		args = append(args, "--retain")
	}
	args = append(args, "--image-gc-high", fmt.Sprint(o.imageGCHigh), "--image-gc-low", fmt.Sprint(o.imageGCLow))
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{pw}
	// Its own session: closing this terminal does not take the lab down.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := store.Record(state.Resource{Kind: state.KindProcess, Name: "supervisor"}); err != nil {
		return proc.ID{}, nil, err
	}
	if err := cmd.Start(); err != nil {
		pr.Close()
		return proc.ID{}, nil, fmt.Errorf("start lab supervisor: %w", err)
	}
	id, err := proc.Identify(cmd.Process.Pid)
	if err == nil {
		err = store.Record(state.Resource{Kind: state.KindProcess, Name: "supervisor", Process: id})
	}
	if err != nil {
		cmd.Process.Kill()
		pr.Close()
		return proc.ID{}, nil, err
	}
	return id, pr, nil
}

func checkImageGC(o upOptions) error {
	switch {
	case o.imageGCHigh < 0 || o.imageGCHigh > 100 || o.imageGCLow < 0 || o.imageGCLow > 100:
		return fmt.Errorf("--image-gc-high %d --image-gc-low %d: both are percentages, 0-100", o.imageGCHigh, o.imageGCLow)
	case o.imageGCLow > o.imageGCHigh:
		return fmt.Errorf("--image-gc-low %d is above --image-gc-high %d: images are removed from high down to low", o.imageGCLow, o.imageGCHigh)
	}
	return nil
}

var errSupervisorDied = errors.New("the lab supervisor exited during bring-up")

func relay(out io.Writer, progress *os.File, start time.Time) error {
	defer progress.Close()
	sc := bufio.NewScanner(progress)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, msgStep):
			fmt.Fprintf(out, " • %-60s %5.1fs\n", strings.TrimPrefix(line, msgStep), time.Since(start).Seconds())
		case line == msgReady:
			return nil
		case strings.HasPrefix(line, msgError):
			return errors.New(strings.TrimPrefix(line, msgError))
		}
	}
	return fmt.Errorf("%w; what it made was removed; run again with -v, or look at the log in the state folder", errSupervisorDied)
}

func printUsage(out io.Writer, g *globals, o upOptions, took time.Duration) {
	nameFlag := ""
	if g.name != harness.DefaultName {
		nameFlag = " --name " + g.name
	}
	fmt.Fprintf(out, `
Lab %q is up in %.1fs: hosts cp-1..cp-3, node-1..node-%d and client, fabric 10.89.0.0/24.
  lab status%[4]s                        hosts and their health
  lab exec%[4]s node-1 -- ip addr        run a command inside a host
  LoadBalancer Services get addresses from %[5]s, reachable from the client host
  lab down%[4]s                          remove the lab and everything it made
`, g.name, took.Seconds(), o.nodes, nameFlag, cmp.Or(o.lbPool, cloudconfig.DefaultPool))
}
