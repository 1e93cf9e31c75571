package harness

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"syscall"
	"time"

	"github.com/kinns/kinns/harness/linkfault"
	"github.com/kinns/kinns/harness/topology"
)

// nodeHost finds a node host by name.
func (l *Lab) nodeHost(name string) (topology.Host, bool) {
	for _, n := range l.plan.Nodes() {
		if n.Name == name {
			return n, true
		}
	}
	return topology.Host{}, false
}

func nodeNames(p topology.Plan) []string {
	var out []string
	for _, n := range p.Nodes() {
		out = append(out, n.Name)
	}
	return out
}

// nodeAgents are the lab's processes that run a node.
func nodeAgents(node string) []string { return []string{KubeletComponent(node), ProxyComponent(node)} }

// nodeCgroup holds the node's pods (the kubelet's CgroupParent) and, while
// the node is frozen, its agents.
func (l *Lab) nodeCgroup(node string) string { return LabCgroup(l.Name()) + "/" + node }

// KillNode cuts a node's power: its cable is pulled first (nothing it says
// while dying gets out), then its kubelet and proxy are killed (SIGKILL),
// then every process of its pods. containerd keeps the dead containers'
// records, as a rebooted node's runtime would find them.
func (l *Lab) KillNode(ctx context.Context, node string) error {
	h, _ := l.nodeHost(node)
	if _, err := linkfault.Apply(ctx, linkfault.TargetOf(l.plan, h), linkfault.Fault{Kind: linkfault.Down}); err != nil {
		return err
	}
	// A frozen process only dies once thawed.
	if err := thawCgroup(ctx, l.nodeCgroup(node)); err != nil {
		return err
	}
	var errs []error
	for _, name := range nodeAgents(node) {
		if l.alive(name) {
			errs = append(errs, l.stop(ctx, name, 0))
		}
	}
	errs = append(errs, killCgroup(ctx, l.nodeCgroup(node)))
	return errors.Join(errs...)
}

// StartNode powers a node back on: its cable is plugged in and its kubelet
// and proxy start with the same name, address and state folder. The kubelet
// finds its pods' containers dead and restarts them, or removes the pods
// the API no longer binds to it.
func (l *Lab) StartNode(ctx context.Context, node string) error {
	h, _ := l.nodeHost(node)
	if err := linkfault.Heal(ctx, linkfault.TargetOf(l.plan, h), linkfault.Down); err != nil {
		return err
	}
	for _, name := range nodeAgents(node) {
		if err := l.StartComponent(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// FreezeNode stops a node dead without killing anything: its kubelet and
// proxy join its pods' cgroup, which the cgroup freezer stops (v1 or v2).
// Its network stack still answers at the kernel's level (ARP, TCP
// handshakes of listening sockets), as a hung machine's would.
func (l *Lab) FreezeNode(ctx context.Context, node string) error {
	var pids []int
	for _, name := range nodeAgents(node) {
		r, err := l.component(name)
		if err != nil {
			return err
		}
		if l.alive(name) {
			pids = append(pids, r.id.PID)
		}
	}
	if err := moveToCgroup(l.nodeCgroup(node)+"/agents", pids); err != nil {
		return err
	}
	return freezeCgroup(ctx, l.nodeCgroup(node))
}

// ThawNode lets a frozen node run on.
func (l *Lab) ThawNode(ctx context.Context, node string) error {
	return thawCgroup(ctx, l.nodeCgroup(node))
}

// PauseComponent stops one process with SIGSTOP: it holds its sockets and
// answers nothing.
func (l *Lab) PauseComponent(_ context.Context, name string) error {
	return l.signal(name, syscall.SIGSTOP)
}

// ResumeComponent lets a paused process run on (SIGCONT).
func (l *Lab) ResumeComponent(_ context.Context, name string) error {
	return l.signal(name, syscall.SIGCONT)
}

// KillComponent kills one process (SIGKILL), as a crash would.
func (l *Lab) KillComponent(ctx context.Context, name string) error {
	if !l.alive(name) {
		return nil
	}
	l.signal(name, syscall.SIGCONT) // a stopped process dies only once continued
	return l.stop(ctx, name, 0)
}

// StartComponent starts a stopped or killed process again, with the same
// configuration, and waits until it is ready.
func (l *Lab) StartComponent(ctx context.Context, name string) error {
	if l.alive(name) {
		return nil
	}
	r, err := l.component(name)
	if err != nil {
		return err
	}
	timeout := 60 * time.Second
	if k, ok := kindOf(r.args); ok {
		timeout = k.timeout
	}
	return l.restart(ctx, name, timeout)
}

// kindOf finds the table row a component was started from (its first
// argument is its kind).
func kindOf(args []string) (kind, bool) {
	for _, k := range kinds {
		if len(args) > 0 && args[0] == k.name {
			return k, true
		}
	}
	return kind{}, false
}

// componentNames lists the processes the lab supervises.
func (l *Lab) componentNames() []string {
	l.procs.mu.Lock()
	defer l.procs.mu.Unlock()
	var out []string
	for name := range l.procs.all {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// etcdMember reads an etcd member's number.
func (l *Lab) etcdMemberArg(arg string) (int, error) {
	n, err := l.etcdMember(arg)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrBadFault, err)
	}
	return n, nil
}
