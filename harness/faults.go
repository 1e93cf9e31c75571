package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kinns/kinns/harness/state"
)

// Fault is one thing to break or mend, as `lab fault TARGET ACTION ARGS…`
// says it.
type Fault = state.Fault

// ErrBadFault is wrapped by every error about a fault as it was written: an
// unknown target or action, or wrong arguments.
var ErrBadFault = errors.New("bad fault")

// FaultRow is one row of the fault table, as `lab fault` shows it.
type FaultRow struct {
	Target, Action string
	// Args is the usage of its arguments: "NODE", "HOST PERCENT".
	Args string
	// Heal is the action that mends it, "" for a row that mends.
	Heal string
	Help string
	// Default: `lab fault TARGET ARGS…` with no action word means this one.
	Default bool
}

// faultRow is a FaultRow with what it does.
type faultRow struct {
	FaultRow
	// nargs bounds the number of arguments.
	minArgs, maxArgs int
	// heal is the fault that mends this one; nil for a row that mends.
	heal func(args []string) Fault
	// settles lists other mends ("TARGET ACTION") that this mending row
	// also carries out (quorum restore starts every etcd member).
	settles []string
	// run checks the arguments and does it.
	run func(ctx context.Context, l *Lab, args []string) error
}

// healWith is a heal function: the same target, action, and the first n
// arguments followed by extra words.
func healWith(target, action string, n int, extra ...string) func([]string) Fault {
	return func(args []string) Fault {
		return Fault{Target: target, Action: action, Args: append(slices.Clone(args[:n]), extra...)}
	}
}

// faultTable is every fault a lab knows: `lab fault` and Inject are both
// built from it. Each fault names the fault that mends it.
var faultTable = []faultRow{
	{FaultRow: FaultRow{Target: "node", Action: "kill", Args: "NODE", Heal: "start",
		Help: "power loss: the node's cable is pulled, its kubelet, proxy and containers are killed"},
		minArgs: 1, maxArgs: 1, heal: healWith("node", "start", 1), run: nodeArg((*Lab).KillNode)},
	{FaultRow: FaultRow{Target: "node", Action: "start", Args: "NODE",
		Help: "power back: cable in, kubelet and proxy start again with the same name and address"},
		minArgs: 1, maxArgs: 1, run: nodeArg((*Lab).StartNode)},
	{FaultRow: FaultRow{Target: "node", Action: "freeze", Args: "NODE", Heal: "thaw",
		Help: "the node's kubelet, proxy and containers stop (cgroup freezer): nothing on it answers"},
		minArgs: 1, maxArgs: 1, heal: healWith("node", "thaw", 1), run: nodeArg((*Lab).FreezeNode)},
	{FaultRow: FaultRow{Target: "node", Action: "thaw", Args: "NODE", Help: "a frozen node runs on"},
		minArgs: 1, maxArgs: 1, run: nodeArg((*Lab).ThawNode)},

	{FaultRow: FaultRow{Target: "component", Action: "pause", Args: "NAME", Heal: "resume",
		Help: "SIGSTOP one process (etcd-2, apiserver, scheduler, kubelet/node-1, proxy/node-1…)"},
		minArgs: 1, maxArgs: 1, heal: healWith("component", "resume", 1), run: componentArg((*Lab).PauseComponent)},
	{FaultRow: FaultRow{Target: "component", Action: "resume", Args: "NAME", Help: "SIGCONT a paused process"},
		minArgs: 1, maxArgs: 1, run: componentArg((*Lab).ResumeComponent)},
	{FaultRow: FaultRow{Target: "component", Action: "kill", Args: "NAME", Heal: "start", Help: "SIGKILL one process"},
		minArgs: 1, maxArgs: 1, heal: healWith("component", "start", 1), run: componentArg((*Lab).KillComponent)},
	{FaultRow: FaultRow{Target: "component", Action: "start", Args: "NAME", Help: "start a killed process again"},
		minArgs: 1, maxArgs: 1, run: componentArg((*Lab).StartComponent)},

	{FaultRow: FaultRow{Target: "partition", Action: "cut", Args: "HOST [--from HOST,…|control-plane|nodes] [--one-way]", Heal: "heal", Default: true,
		Help: "cut HOST off from the others (everyone by default), existing connections too; --one-way drops only what HOST sends"},
		minArgs: 1, maxArgs: 4, heal: healWith("partition", "heal", 1), run: partitionArgs},
	{FaultRow: FaultRow{Target: "partition", Action: "heal", Args: "HOST", Help: "HOST hears and is heard again"},
		minArgs: 1, maxArgs: 1, run: hostArg((*Lab).HealPartition)},

	{FaultRow: FaultRow{Target: "link", Action: "down", Args: "HOST", Heal: "up", Help: "HOST's cable is pulled"},
		minArgs: 1, maxArgs: 1, heal: healWith("link", "up", 1), run: linkArgs("down")},
	{FaultRow: FaultRow{Target: "link", Action: "up", Args: "HOST", Help: "HOST's cable is plugged in"},
		minArgs: 1, maxArgs: 1, run: linkArgs("up")},
	{FaultRow: FaultRow{Target: "link", Action: "loss", Args: "HOST PERCENT", Heal: "heal", Help: "drop PERCENT of HOST's packets, each way"},
		minArgs: 2, maxArgs: 2, heal: healWith("link", "heal", 1, "loss"), run: linkArgs("loss")},
	{FaultRow: FaultRow{Target: "link", Action: "rate", Args: "HOST RATE", Heal: "heal", Help: "limit HOST's link to RATE (1mbit, 512kbit…), each way"},
		minArgs: 2, maxArgs: 2, heal: healWith("link", "heal", 1, "rate"), run: linkArgs("rate")},
	{FaultRow: FaultRow{Target: "link", Action: "delay", Args: "HOST MS [JITTER_MS]", Heal: "heal",
		Help: "hold HOST's packets MS milliseconds each way (netem, or a delayer on NFQUEUE)"},
		minArgs: 2, maxArgs: 3, heal: healWith("link", "heal", 1, "delay"), run: linkArgs("delay")},
	{FaultRow: FaultRow{Target: "link", Action: "heal", Args: "HOST [down|loss|rate|delay]", Help: "undo one link fault of HOST, or all"},
		minArgs: 1, maxArgs: 2, settles: []string{"link up"}, run: linkArgs("heal")},

	{FaultRow: FaultRow{Target: "etcd", Action: "stop", Args: "N", Heal: "start", Help: "member N (1-3) stops; a leader hands over first"},
		minArgs: 1, maxArgs: 1, heal: healWith("etcd", "start", 1), run: memberArg((*Lab).StopEtcd)},
	{FaultRow: FaultRow{Target: "etcd", Action: "kill", Args: "N", Heal: "start", Help: "member N crashes (SIGKILL)"},
		minArgs: 1, maxArgs: 1, heal: healWith("etcd", "start", 1), run: memberArg((*Lab).KillEtcd)},
	{FaultRow: FaultRow{Target: "etcd", Action: "start", Args: "N", Help: "member N starts again on its data"},
		minArgs: 1, maxArgs: 1, run: memberArg((*Lab).StartEtcd)},
	{FaultRow: FaultRow{Target: "etcd", Action: "partition", Args: "N", Heal: "heal", Help: "cp-N's cable is pulled"},
		minArgs: 1, maxArgs: 1, heal: healWith("etcd", "heal", 1), run: memberArg(func(l *Lab, _ context.Context, n int) error { return l.PartitionEtcd(n) })},
	{FaultRow: FaultRow{Target: "etcd", Action: "heal", Args: "N", Help: "cp-N's cable is plugged in"},
		minArgs: 1, maxArgs: 1, run: memberArg(func(l *Lab, _ context.Context, n int) error { return l.HealEtcd(n) })},

	{FaultRow: FaultRow{Target: "quorum", Action: "lose", Heal: "restore", Help: "members 2 and 3 stop: no writes"},
		heal: healWith("quorum", "restore", 0), run: noArgs((*Lab).LoseQuorum)},
	{FaultRow: FaultRow{Target: "quorum", Action: "restore", Help: "every stopped member starts again"},
		settles: []string{"etcd start"}, run: noArgs((*Lab).RestoreQuorum)},

	{FaultRow: FaultRow{Target: "apiserver", Action: "stop", Args: "[N]", Heal: "start", Help: "the API server of cp-N (default 1) stops"},
		maxArgs: 1, heal: func(args []string) Fault {
			return Fault{Target: "apiserver", Action: "start", Args: append(args, "1")[:1]}
		},
		run: apiServerArg((*Lab).StopAPIServerOn)},
	{FaultRow: FaultRow{Target: "apiserver", Action: "start", Args: "[N]", Help: "the API server of cp-N starts again"},
		maxArgs: 1, run: apiServerArg((*Lab).StartAPIServerOn)},
}

// FaultTable lists the faults a lab knows, in the order `lab fault` shows.
func FaultTable() []FaultRow {
	out := make([]FaultRow, len(faultTable))
	for i, r := range faultTable {
		out[i] = r.FaultRow
	}
	return out
}

// CheckFault says whether f names a fault of the table with the right
// number of arguments (the lab checks the rest: host names, values).
func CheckFault(f Fault) error {
	_, err := findFault(normalize(f))
	return err
}

// normalize spells f with its action: `partition node-2 …` is the
// target's default action, `partition cut node-2 …`.
func normalize(f Fault) Fault {
	var def string
	for _, r := range faultTable {
		if r.Target != f.Target {
			continue
		}
		if r.Action == f.Action {
			return f
		}
		if r.Default {
			def = r.Action
		}
	}
	if def == "" || f.Action == "" {
		return f
	}
	return Fault{Target: f.Target, Action: def, Args: append([]string{f.Action}, f.Args...)}
}

// findFault finds f's row, or says what exists.
func findFault(f Fault) (faultRow, error) {
	var targets, actions []string
	for _, r := range faultTable {
		if !slices.Contains(targets, r.Target) {
			targets = append(targets, r.Target)
		}
		if r.Target != f.Target {
			continue
		}
		if r.Action == f.Action {
			if len(f.Args) < r.minArgs || len(f.Args) > r.maxArgs {
				return r, fmt.Errorf("%w: usage: lab fault %s %s %s", ErrBadFault, r.Target, r.Action, r.Args)
			}
			return r, nil
		}
		actions = append(actions, r.Action)
	}
	if actions == nil {
		return faultRow{}, fmt.Errorf("%w: no fault target %q; targets are %s", ErrBadFault, f.Target, strings.Join(targets, ", "))
	}
	return faultRow{}, fmt.Errorf("%w: %s has no action %q; actions are %s", ErrBadFault, f.Target, f.Action, strings.Join(actions, ", "))
}

// Inject carries out a fault, or a mend, and keeps the list of faults in
// force up to date (`lab status` shows it; HealAll undoes it).
func (l *Lab) Inject(ctx context.Context, f Fault) error {
	f = normalize(f)
	r, err := findFault(f)
	if err != nil {
		return err
	}
	l.faultMu.Lock()
	defer l.faultMu.Unlock()
	if err := r.run(ctx, l, f.Args); err != nil {
		return fmt.Errorf("%s: %w", f, err)
	}
	return l.store.UpdateMeta(func(m *state.Meta) { m.Broken = record(m.Broken, r, f, time.Now()) })
}

// record is broken after r ran as f: a fault is added (replacing an older
// one mended the same way), a mend removes what it mends.
func record(broken []state.Broken, r faultRow, f Fault, now time.Time) []state.Broken {
	if r.heal != nil {
		heal := r.heal(f.Args)
		broken = slices.DeleteFunc(broken, func(b state.Broken) bool { return b.Heal.String() == heal.String() })
		return append(broken, state.Broken{Fault: f, Heal: heal, Since: now.UTC()})
	}
	return slices.DeleteFunc(broken, func(b state.Broken) bool { return mends(r, f, b.Heal) })
}

// mends reports whether mend f (of row r) carries out heal: the same
// target and action (or a mend r settles), and heal's arguments begin with
// f's.
func mends(r faultRow, f Fault, heal Fault) bool {
	same := heal.Target == f.Target && heal.Action == f.Action
	if !same && !slices.Contains(r.settles, heal.Target+" "+heal.Action) {
		return false
	}
	return len(f.Args) <= len(heal.Args) && slices.Equal(heal.Args[:len(f.Args)], f.Args)
}

// Broken lists the faults in force, oldest first.
func (l *Lab) Broken() []state.Broken {
	m, _ := l.store.Meta()
	return m.Broken
}

// HealAll mends every fault in force, newest first, carrying on past
// failures. It is what a spec's DeferCleanup and `lab fault heal-all` run.
func (l *Lab) HealAll(ctx context.Context) error {
	var errs []error
	broken := l.Broken()
	for i := len(broken) - 1; i >= 0; i-- {
		if err := l.Inject(ctx, broken[i].Heal); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Break injects f and registers its mend with cleanup (a spec's
// DeferCleanup), so that the fault never outlives the spec.
func (l *Lab) Break(ctx context.Context, f Fault, cleanup func(args ...any)) error {
	f = normalize(f)
	r, err := findFault(f)
	if err != nil {
		return err
	}
	if r.heal == nil {
		return fmt.Errorf("%w: %s mends, it breaks nothing", ErrBadFault, f)
	}
	if err := l.Inject(ctx, f); err != nil {
		return err
	}
	heal := r.heal(f.Args)
	cleanup(func(ctx context.Context) error {
		if !slices.ContainsFunc(l.Broken(), func(b state.Broken) bool { return b.Heal.String() == heal.String() }) {
			return nil // mended already
		}
		return l.Inject(ctx, heal)
	})
	return nil
}

func apiServerArg(do func(*Lab, context.Context, int) error) func(context.Context, *Lab, []string) error {
	return func(ctx context.Context, l *Lab, args []string) error {
		n, err := l.apiServerArg(args)
		if err != nil {
			return err
		}
		return do(l, ctx, n)
	}
}

func noArgs(do func(*Lab, context.Context) error) func(context.Context, *Lab, []string) error {
	return func(ctx context.Context, l *Lab, _ []string) error { return do(l, ctx) }
}

func memberArg(do func(*Lab, context.Context, int) error) func(context.Context, *Lab, []string) error {
	return func(ctx context.Context, l *Lab, args []string) error {
		n, err := l.etcdMemberArg(args[0])
		if err != nil {
			return err
		}
		return do(l, ctx, n)
	}
}

func nodeArg(do func(*Lab, context.Context, string) error) func(context.Context, *Lab, []string) error {
	return func(ctx context.Context, l *Lab, args []string) error {
		h, err := l.Host(args[0])
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadFault, err)
		}
		if _, ok := l.nodeHost(h.Name); !ok {
			return fmt.Errorf("%w: %s is not a node; nodes are %v", ErrBadFault, h.Name, nodeNames(l.plan))
		}
		return do(l, ctx, h.Name)
	}
}

func hostArg(do func(*Lab, context.Context, string) error) func(context.Context, *Lab, []string) error {
	return func(ctx context.Context, l *Lab, args []string) error {
		h, err := l.Host(args[0])
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadFault, err)
		}
		return do(l, ctx, h.Name)
	}
}

func componentArg(do func(*Lab, context.Context, string) error) func(context.Context, *Lab, []string) error {
	return func(ctx context.Context, l *Lab, args []string) error {
		if _, err := l.component(args[0]); err != nil {
			return fmt.Errorf("%w: %v; components are %v", ErrBadFault, err, l.componentNames())
		}
		return do(l, ctx, args[0])
	}
}
