package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/controlplane/pki"
	"github.com/kinns/kinns/harness/containerd"
	"github.com/kinns/kinns/harness/network"
	"github.com/kinns/kinns/harness/proc"
	"github.com/kinns/kinns/harness/state"
	"github.com/kinns/kinns/harness/topology"
	"github.com/kinns/kinns/kubelet/records"
)

// Lab is a running lab, or one found through its state folder.
type Lab struct {
	cfg   Config
	plan  topology.Plan
	store *state.Store
	log   *slog.Logger
	// containerdAddress is the daemon the nodes use. During bring-up it is
	// written by the containerd step, which the kubelets' step comes after.
	containerdAddress string
	// procs are the component processes this Lab value started and supervises.
	procs components
	// lacking are the binaries of binaryFor found missing, said once each.
	lacking sync.Map
	// faultMu makes faults one at a time.
	faultMu sync.Mutex
	pki     *pki.Bundle
	// apiPort is the host's way in: 127.0.0.1:apiPort (0: pick a free port).
	apiPort int
}

// Name is the lab's name.
func (l *Lab) Name() string { return l.plan.Lab }

// Plan is the lab's topology.
func (l *Lab) Plan() topology.Plan { return l.plan }

// StateDir is the lab's state folder.
func (l *Lab) StateDir() string { return l.store.Dir() }

// CopyLogs copies the lab's logs (every component's, the audit log, the
// supervisor's lab.log) into the folder dst.
func (l *Lab) CopyLogs(dst string) error {
	err := os.CopyFS(dst, os.DirFS(filepath.Join(l.StateDir(), "logs")))
	if b, rerr := os.ReadFile(filepath.Join(l.StateDir(), "lab.log")); rerr == nil {
		err = errors.Join(err, os.WriteFile(filepath.Join(dst, "lab.log"), b, 0o644))
	}
	return err
}

// ContainerdAddress is the socket of the containerd the lab's nodes use.
func (l *Lab) ContainerdAddress() string { return l.containerdAddress }

// Host finds a host by name, with an error that lists the valid names.
func (l *Lab) Host(name string) (topology.Host, error) {
	h, ok := l.plan.Host(name)
	if !ok {
		return h, fmt.Errorf("lab %s has no host %q; hosts are %v", l.Name(), name, l.plan.HostNames())
	}
	return h, nil
}

// Reserve checks that a lab of cfg can be brought up on this machine and makes its
// state folder, so that another process can run Up with cfg.Reserved. It is what
// lets `lab up` report bad input before it starts anything in the background.
func Reserve(cfg Config) (*state.Store, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	plan, err := cfg.plan()
	if err != nil {
		return nil, err
	}
	if err := preflight(cfg); err != nil {
		return nil, err
	}
	if err := checkFree(cfg.StateRoot, plan); err != nil {
		return nil, err
	}
	store, err := state.Create(cfg.StateRoot, cfg.Name, state.Meta{
		Nodes: cfg.Nodes, APIServers: cfg.APIServers, Timing: cfg.Timing, ContainerdAddress: cfg.ContainerdAddress,
		Created: time.Now().UTC(), Supervisor: cfg.Owner,
	})
	if errors.Is(err, state.ErrExists) {
		// Lost a race with another `lab up` of the same name.
		return nil, fmt.Errorf("%w: lab %q is being brought up by another process", ErrAlreadyUp, cfg.Name)
	}
	return store, err
}

// checkFree fails if a lab of that name, or any namespace it would use, exists.
func checkFree(root string, plan topology.Plan) error {
	if s, err := state.Open(root, plan.Lab); err == nil {
		m, _ := s.Meta()
		if m.Supervisor.Alive() {
			return fmt.Errorf("%w: lab %q is already up (supervisor pid %d); use it, or take it down with `lab down --name %s`",
				ErrAlreadyUp, plan.Lab, m.Supervisor.PID, plan.Lab)
		}
		return fmt.Errorf("%w: lab %q did not shut down cleanly (state in %s); run `lab down --name %s` first",
			ErrLeftovers, plan.Lab, s.Dir(), plan.Lab)
	}
	var taken []string
	for _, ns := range append([]string{plan.FabricNetns}, hostNetns(plan)...) {
		if netns.Exists(ns) {
			taken = append(taken, ns)
		}
	}
	if len(taken) > 0 {
		return fmt.Errorf("%w: network namespaces %v exist but no kinns state records them; pick another --name, or remove them with `ip netns delete` if they are yours",
			ErrLeftovers, taken)
	}
	return nil
}

func hostNetns(p topology.Plan) []string {
	var out []string
	for _, h := range p.Hosts {
		out = append(out, h.Netns)
	}
	return out
}

// Up brings a lab up and returns once it is ready. If any step fails, everything
// made so far is removed before Up returns the error.
func Up(ctx context.Context, cfg Config) (*Lab, error) {
	l, err := open(cfg)
	if err != nil {
		return nil, err
	}
	if err := l.bringUp(ctx); err != nil {
		if cfg.Retain {
			l.log.Error("bring-up failed, keeping what was made", "err", err)
			return nil, fmt.Errorf("bring up lab %s: %w (kept for inspection, as asked: `lab status --name %s`, `lab logs --name %s`; `lab down --name %s` removes it)",
				cfg.Name, err, cfg.Name, cfg.Name, cfg.Name)
		}
		l.log.Error("bring-up failed, removing what was made", "err", err)
		if cfg.FailureLogs != "" {
			dst := filepath.Join(cfg.FailureLogs, cfg.Name)
			if cerr := l.CopyLogs(dst); cerr != nil {
				err = fmt.Errorf("%w (and keeping its logs in %s failed: %v)", err, dst, cerr)
			} else {
				err = fmt.Errorf("%w (its logs are kept in %s)", err, dst)
			}
		}
		cleanCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if derr := l.teardown(cleanCtx); derr != nil {
			return nil, fmt.Errorf("bring up lab %s: %w (and cleanup failed: %v; run `lab down --name %s`)", cfg.Name, err, derr, cfg.Name)
		}
		return nil, fmt.Errorf("bring up lab %s: %w", cfg.Name, err)
	}
	return l, nil
}

// open reserves the lab (or opens the reservation) and sets up the Lab value.
func open(cfg Config) (*Lab, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	var store *state.Store
	var err error
	if cfg.Reserved {
		store, err = state.Open(cfg.StateRoot, cfg.Name)
	} else {
		store, err = Reserve(cfg)
	}
	if err != nil {
		return nil, err
	}
	plan, err := cfg.plan()
	if err != nil {
		return nil, err
	}
	l := &Lab{cfg: cfg, plan: plan, store: store, log: cfg.Log.With("lab", cfg.Name)}
	return l, nil
}

// startContainerd joins the shared daemon (or the given one) and makes each node's
// containerd namespace.
func (l *Lab) startContainerd(ctx context.Context) error {
	l.containerdAddress = l.cfg.ContainerdAddress
	if l.containerdAddress == "" {
		d := l.daemon()
		l.cfg.Progress("containerd: shared daemon at " + d.Address() + " (log: " + d.LogPath() + ")")
		if err := l.store.Record(state.Resource{Kind: state.KindContainerdHolder, Name: l.holder()}); err != nil {
			return err
		}
		addr, err := d.Acquire(ctx, l.holder(), l.cfg.Owner)
		if err != nil {
			return err
		}
		l.containerdAddress = addr
	} else {
		l.cfg.Progress("containerd: using " + l.containerdAddress)
		if err := containerd.WaitServing(ctx, l.containerdAddress, 5*time.Second); err != nil {
			return err
		}
	}
	for _, n := range l.plan.Nodes() {
		ns := topology.ContainerdNamespace(l.Name(), n.Name)
		if err := l.store.Record(state.Resource{Kind: state.KindContainerdNamespace, Name: ns, Address: l.containerdAddress}); err != nil {
			return err
		}
		labels := map[string]string{"kinns.lab": l.Name(), "kinns.node": n.Name}
		if err := containerd.CreateNamespace(ctx, l.containerdAddress, ns, labels); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) daemon() containerd.Daemon { return containerd.NewDaemon(l.cfg.StateRoot, l.log) }

func (l *Lab) holder() string { return "lab-" + l.Name() }

// Attach finds a lab through its state folder, to inspect, exec into or take down.
func Attach(root, name string) (*Lab, error) {
	if root == "" {
		root = StateRoot()
	}
	store, err := state.Open(root, name)
	if err != nil {
		return nil, err
	}
	m, err := store.Meta()
	if err != nil {
		return nil, err
	}
	plan, err := topology.New(name, m.Nodes)
	if err != nil {
		return nil, err
	}
	cfg := Config{Name: name, Nodes: m.Nodes, APIServers: max(m.APIServers, 1), Timing: m.Timing, StateRoot: root,
		ContainerdAddress: m.ContainerdAddress, Owner: m.Supervisor, Log: slog.New(slog.DiscardHandler)}
	return &Lab{cfg: cfg, plan: plan, store: store, log: cfg.Log, containerdAddress: m.ContainerdAddress, apiPort: m.APIPort}, nil
}

// Down stops the lab and removes everything it recorded.
func (l *Lab) Down(ctx context.Context) error {
	if err := l.teardown(ctx); err != nil {
		return fmt.Errorf("take down lab %s: %w", l.Name(), err)
	}
	return nil
}

// Down takes down the lab called name: it asks the lab's supervisor to stop (and
// kills it if it does not), then removes whatever the journal still names. It is
// idempotent, and works after the supervisor died with SIGKILL.
func Down(ctx context.Context, root, name string, log *slog.Logger) error {
	if root == "" {
		root = StateRoot()
	}
	store, err := state.Open(root, name)
	if err != nil {
		return err
	}
	m, _ := store.Meta()
	self, _ := proc.Self()
	if m.Supervisor.Alive() && m.Supervisor != self {
		if log != nil {
			log.Info("stopping lab supervisor", "lab", name, "pid", m.Supervisor.PID)
		}
		// The supervisor tears down on SIGTERM; give it time before SIGKILL.
		if err := proc.Stop(ctx, m.Supervisor, 60*time.Second); err != nil {
			return fmt.Errorf("stop supervisor of lab %s: %w", name, err)
		}
	}
	if _, err := os.Stat(store.Dir()); errors.Is(err, os.ErrNotExist) {
		return nil // the supervisor cleaned up
	}
	l, err := Attach(root, name)
	if err != nil {
		return err
	}
	if log != nil {
		l.log = log.With("lab", name)
	}
	return l.Down(ctx)
}

// teardown removes every recorded resource, in teardown order, carrying on past
// failures; the state folder goes only once everything else is gone.
func (l *Lab) teardown(ctx context.Context) error {
	for _, n := range l.plan.Nodes() { // a frozen process dies only once thawed
		if err := thawCgroup(ctx, l.nodeCgroup(n.Name)); err != nil {
			l.log.Warn("could not thaw node", "node", n.Name, "err", err)
		}
	}
	self, _ := proc.Self()
	remove := func(ctx context.Context, r state.Resource) error {
		if r.Kind == state.KindProcess && r.Process == self {
			return nil // the supervisor taking down its own lab
		}
		return l.remove(ctx, r)
	}
	if err := teardownAll(ctx, l.resources, remove, l.log); err != nil {
		return err
	}
	return l.store.Remove()
}

// resources is what the lab recorded, and the pod namespaces and volume
// mounts that the kubelets left in their own state folders (records.Netns
// and records.Mounts read them; every node folder is read, whatever the lab's size is believed to be).
func (l *Lab) resources() ([]state.Resource, error) {
	rs, err := l.store.Resources()
	if err != nil {
		return nil, err
	}
	nodes, _ := os.ReadDir(l.store.Path("nodes"))
	for _, n := range nodes {
		for _, name := range records.Netns(l.kubeletStateDir(n.Name())) {
			rs = append(rs, state.Resource{Kind: state.KindNetns, Name: name})
		}
		for _, dir := range records.Mounts(l.kubeletStateDir(n.Name())) {
			rs = append(rs, state.Resource{Kind: state.KindMount, Name: dir})
		}
	}
	return rs, nil
}

// teardownAll stops the recorded processes first, and only then reads the
// records again for the rest: a kubelet records a pod's namespace just
// before it makes it, so one read before the kubelets stop could
// miss a pod that started meanwhile (a ReplicaSet replacing pods a spec just
// deleted) and leave its namespace behind.
func teardownAll(ctx context.Context, read func() ([]state.Resource, error), remove func(context.Context, state.Resource) error, log *slog.Logger) error {
	rs, err := read()
	if err != nil {
		return err
	}
	procErr := teardown(ctx, processes(rs), remove, log)
	if rs, err = read(); err != nil {
		return err
	}
	return errors.Join(procErr, teardown(ctx, rs, remove, log))
}

// processes are the process resources of rs.
func processes(rs []state.Resource) []state.Resource {
	var out []state.Resource
	for _, r := range rs {
		if r.Kind == state.KindProcess {
			out = append(out, r)
		}
	}
	return out
}

// teardown removes rs stage by stage; within a stage (say, all namespaces) removals
// run concurrently, since the kernel spends most of a namespace's removal waiting.
// It carries on past failures and returns them all.
func teardown(ctx context.Context, rs []state.Resource, remove func(context.Context, state.Resource) error, log *slog.Logger) error {
	var (
		mu   sync.Mutex
		errs []error
	)
	for _, stage := range state.TeardownStages(rs) {
		var g errgroup.Group
		g.SetLimit(16)
		for _, r := range stage {
			g.Go(func() error {
				if err := remove(ctx, r); err != nil {
					log.Warn("could not remove", "resource", r.String(), "err", err)
					mu.Lock()
					errs = append(errs, fmt.Errorf("remove %s: %w", r, err))
					mu.Unlock()
				}
				return nil
			})
		}
		g.Wait()
	}
	return errors.Join(errs...)
}

func (l *Lab) remove(ctx context.Context, r state.Resource) error {
	switch r.Kind {
	case state.KindProcess:
		return proc.Stop(ctx, r.Process, 5*time.Second)
	case state.KindContainerdNamespace:
		return containerd.DeleteNamespace(ctx, r.Address, r.Name)
	case state.KindContainerdHolder:
		return l.daemon().Release(ctx, r.Name)
	case state.KindLink:
		return network.RemoveLink(r.Netns, r.Name)
	case state.KindNetns:
		return netns.Delete(r.Name)
	case state.KindCgroup:
		return removeCgroup(r.Name)
	case state.KindMount:
		return unmount(r.Name)
	case state.KindFile, state.KindJournal:
		return os.RemoveAll(r.Name)
	}
	return fmt.Errorf("unknown resource kind %q", r.Kind)
}

// Labs lists every lab that has state on this machine.
func Labs(root string) ([]string, error) {
	if root == "" {
		root = StateRoot()
	}
	return state.List(root)
}
