package harness

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/kinns/kinns/harness/linkfault"
	"github.com/kinns/kinns/harness/topology"
)

// Partition cuts host off from peers (host names): packets between them are
// dropped on host's link, both ways or, with oneWay, only those host sends;
// existing connections are cut too (host's conntrack entries with them go).
// A node peer stands for its pods as well.
func (l *Lab) Partition(ctx context.Context, host string, peers []string, oneWay bool) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	var prefixes []netip.Prefix
	for _, name := range peers {
		p, err := l.Host(name)
		if err != nil {
			return err
		}
		if p.Name == h.Name {
			return fmt.Errorf("%w: %s cannot be partitioned from itself", ErrBadFault, h.Name)
		}
		prefixes = append(prefixes, netip.PrefixFrom(p.IP, 32))
		if p.IsNode() {
			prefixes = append(prefixes, p.PodCIDR)
		}
	}
	return linkfault.Injector{}.Partition(ctx, linkfault.TargetOf(l.plan, h), prefixes, oneWay)
}

// HealPartition undoes host's partition.
func (l *Lab) HealPartition(ctx context.Context, host string) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	return linkfault.Injector{}.HealPartition(ctx, linkfault.TargetOf(l.plan, h))
}

// partitionArgs reads `HOST [--from HOST,…|control-plane|nodes] [--one-way]`.
func partitionArgs(ctx context.Context, l *Lab, args []string) error {
	host, oneWay, from := args[0], false, ""
	for i := 1; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--one-way":
			oneWay = true
		case a == "--from" && i+1 < len(args):
			from = args[i+1]
			i++
		case strings.HasPrefix(a, "--from="):
			from = strings.TrimPrefix(a, "--from=")
		default:
			return fmt.Errorf("%w: unknown partition argument %q: use --from HOST,…|control-plane|nodes and --one-way", ErrBadFault, a)
		}
	}
	if _, err := l.Host(host); err != nil {
		return fmt.Errorf("%w: %v", ErrBadFault, err)
	}
	peers, err := l.peers(host, from)
	if err != nil {
		return err
	}
	return l.Partition(ctx, host, peers, oneWay)
}

// peers reads --from: a list of hosts, control-plane, nodes, or (empty)
// every other host.
func (l *Lab) peers(host, from string) ([]string, error) {
	var hosts []topology.Host
	switch from {
	case "", "all", "everyone":
		hosts = l.plan.Hosts
	case "control-plane":
		hosts = l.plan.ControlPlane()
	case "nodes":
		hosts = l.plan.Nodes()
	default:
		var out []string
		for _, name := range strings.Split(from, ",") {
			if _, err := l.Host(name); err != nil {
				return nil, fmt.Errorf("%w: --from: %v", ErrBadFault, err)
			}
			out = append(out, name)
		}
		return out, nil
	}
	var out []string
	for _, h := range hosts {
		if h.Name != host {
			out = append(out, h.Name)
		}
	}
	return out, nil
}

// DelayerComponent names the delayer of a host's link.
func DelayerComponent(host string) string { return "delayer/" + host }

// linkArgs runs `link ACTION HOST [ARGS…]` through package linkfault.
func linkArgs(action string) func(context.Context, *Lab, []string) error {
	return func(ctx context.Context, l *Lab, args []string) error {
		h, err := l.Host(args[0])
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadFault, err)
		}
		cmd, err := linkfault.ParseCommand(strings.Join(append([]string{action}, args[1:]...), " "))
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadFault, err)
		}
		return l.LinkFault(ctx, h.Name, cmd)
	}
}

// LinkFault applies or heals a fault of host's link. A delay without netem
// runs a delayer process inside the host (`lab component delayer`), which
// goes when the delay is healed.
func (l *Lab) LinkFault(ctx context.Context, host string, cmd linkfault.Command) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	t := linkfault.TargetOf(l.plan, h)
	if cmd.Heal {
		kinds := linkfault.Kinds
		if cmd.Fault.Kind != "" {
			kinds = []linkfault.Kind{cmd.Fault.Kind}
		}
		var errs []error
		for _, k := range kinds {
			errs = append(errs, linkfault.Heal(ctx, t, k))
			if k == linkfault.Delay {
				errs = append(errs, l.stopDelayer(ctx, host))
			}
		}
		return errors.Join(errs...)
	}
	if cmd.Fault.Kind == linkfault.Delay {
		if err := l.stopDelayer(ctx, host); err != nil { // new values, new delayer
			return err
		}
	}
	applied, err := linkfault.Apply(ctx, t, cmd.Fault)
	if err != nil || applied.Delayer == nil {
		return err
	}
	if err := l.startDelayer(ctx, h, *applied.Delayer); err != nil {
		return errors.Join(err, linkfault.Heal(ctx, t, linkfault.Delay))
	}
	return nil
}

func (l *Lab) startDelayer(ctx context.Context, h topology.Host, cfg linkfault.DelayerConfig) error {
	k := kindNamed("delayer")
	c, err := l.configured(DelayerComponent(h.Name), h.Name, k.name, cfg)
	if err != nil {
		return err
	}
	return l.start(ctx, c, k.timeout)
}

func (l *Lab) stopDelayer(ctx context.Context, host string) error {
	name := DelayerComponent(host)
	if !l.alive(name) {
		return nil
	}
	return l.stop(ctx, name, 2*time.Second)
}
