package linkfault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
)

// DefaultQueue is the NFQUEUE number the delay rules and the delayer use.
// Queues are per network namespace, so every host can use the same one.
const DefaultQueue = 2711

// DelayMethod chooses how Delay is done.
type DelayMethod string

const (
	// DelayAuto uses netem where the kernel has it, else NFQUEUE.
	DelayAuto    DelayMethod = ""
	DelayNetem   DelayMethod = "netem"
	DelayNFQueue DelayMethod = "nfqueue"
)

// ErrBusy is returned when a link's root qdisc is one Apply must not replace:
// not ours, or ours for another fault (rate and netem delay share the root).
var ErrBusy = errors.New("link has another root qdisc")

// Injector applies and heals link faults. The zero value works on the real
// machine; tests inject IPTables and Netlink.
type Injector struct {
	IPTables IPTables // nil: ExecIPTables
	Netlink  Netlink  // nil: NetlinkOps
	Queue    uint16   // 0: DefaultQueue
	Delay    DelayMethod
	// Conntrack deletes a namespace's connection tracking entries with
	// peers when a partition starts; nil: FlushConntrack.
	Conntrack func(netns string, peers []netip.Prefix) error
	Log       *slog.Logger
}

// Applied says how a fault was applied.
type Applied struct {
	Via string // "netlink", "iptables", "tbf", "netem" or "nfqueue"
	// Delayer, when not nil, is a process the caller must now run inside the
	// target's host namespace (`lab component delayer` with this config) until
	// it heals the fault: the rules queue the link's packets, the delayer holds
	// them. Heal first, then stop the delayer, and no packet is lost.
	Delayer *DelayerConfig
}

// Apply breaks the target's link with f. Applying a fault of a kind already
// applied replaces it.
func Apply(ctx context.Context, t Target, f Fault) (Applied, error) {
	return Injector{}.Apply(ctx, t, f)
}

// Heal undoes a fault of kind k on the target's link. Healing what is not
// applied is success.
func Heal(ctx context.Context, t Target, k Kind) error { return Injector{}.Heal(ctx, t, k) }

// HealAll undoes every fault on the target's link.
func HealAll(ctx context.Context, t Target) error { return Injector{}.HealAll(ctx, t) }

func (in Injector) Apply(ctx context.Context, t Target, f Fault) (Applied, error) {
	if err := f.Validate(); err != nil {
		return Applied{}, err
	}
	if err := ctx.Err(); err != nil {
		return Applied{}, err
	}
	in.log().Info("apply link fault", "fault", f.String(), "netns", t.HostNetns)
	a, err := in.apply(ctx, t, f)
	if err != nil {
		return Applied{}, fmt.Errorf("apply %q on %s: %w", f, t.HostNetns, err)
	}
	return a, nil
}

func (in Injector) apply(ctx context.Context, t Target, f Fault) (Applied, error) {
	switch f.Kind {
	case Down:
		return Applied{Via: "netlink"}, in.netlink().SetLinkUp(t.FabricNetns, t.FabricLink, false)
	case Loss:
		return Applied{Via: "iptables"}, in.applyRules(ctx, t, Loss, lossRule(f.Loss))
	case Rate:
		return Applied{Via: "tbf"}, in.applyRate(t, f.Rate)
	case Delay:
		return in.applyDelay(ctx, t, f)
	}
	return Applied{}, invalid("unknown link fault %q", f.Kind)
}

func (in Injector) Heal(ctx context.Context, t Target, k Kind) error {
	if !isKind(k) {
		return invalid("unknown link fault %q: heal one of down, loss, rate, delay", k)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	in.log().Info("heal link fault", "fault", k, "netns", t.HostNetns)
	if err := in.heal(ctx, t, k); err != nil {
		return fmt.Errorf("heal %s on %s: %w", k, t.HostNetns, err)
	}
	return nil
}

func (in Injector) heal(ctx context.Context, t Target, k Kind) error {
	switch k {
	case Down:
		// Both ends up is the healthy state, whichever end went down.
		return errors.Join(in.netlink().SetLinkUp(t.FabricNetns, t.FabricLink, true),
			in.netlink().SetLinkUp(t.HostNetns, t.HostLink, true))
	case Loss:
		return in.healRules(ctx, t, Loss)
	case Rate:
		return in.healRoot(t, "tbf", rateHandle)
	default: // Delay: whichever way it was done
		return errors.Join(in.healRoot(t, "netem", delayHandle), in.healRules(ctx, t, Delay))
	}
}

func (in Injector) HealAll(ctx context.Context, t Target) error {
	var errs []error
	for _, k := range Kinds {
		errs = append(errs, in.Heal(ctx, t, k))
	}
	return errors.Join(errs...)
}

func (in Injector) applyRules(ctx context.Context, t Target, k Kind, rule string) error {
	ipt := in.iptables()
	s, err := ipt.Save(ctx, t.HostNetns, table)
	if err != nil {
		return err
	}
	return ipt.Restore(ctx, t.HostNetns, renderApply(s, chainsOf(k), t.HostLink, rule))
}

func (in Injector) healRules(ctx context.Context, t Target, k Kind) error {
	ipt := in.iptables()
	s, err := ipt.Save(ctx, t.HostNetns, table)
	if err != nil {
		return err
	}
	text := renderHeal(s, chainsOf(k))
	if text == nil {
		return nil
	}
	return ipt.Restore(ctx, t.HostNetns, text)
}

func (in Injector) log() *slog.Logger {
	if in.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return in.Log.With("component", "linkfault")
}

func (in Injector) iptables() IPTables {
	if in.IPTables == nil {
		return ExecIPTables{}
	}
	return in.IPTables
}

func (in Injector) netlink() Netlink {
	if in.Netlink == nil {
		return NetlinkOps{}
	}
	return in.Netlink
}

func (in Injector) queue() uint16 {
	if in.Queue == 0 {
		return DefaultQueue
	}
	return in.Queue
}
