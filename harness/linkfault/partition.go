package linkfault

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/kinns/kinns/cni/netns"
)

// partitionChains hold a partition's DROP rules, in the same mangle hooks
// as the other faults' (see table).
var partitionChains = chainsOf("part")

// Partition cuts the target host off from peers (addresses or prefixes:
// other hosts' fabric addresses, their pod ranges): packets between them
// are dropped on the host's link, both ways or, with oneWay, only those the
// host sends (it still hears the peers, they no longer hear it). Existing
// connections are cut too: the host's conntrack entries with a peer are
// deleted, so no NAT or established state outlives the cut. Partitioning
// again replaces the previous peers.
func (in Injector) Partition(ctx context.Context, t Target, peers []netip.Prefix, oneWay bool) error {
	if len(peers) == 0 {
		return invalid("a partition needs at least one peer")
	}
	var inRules, outRules []string
	for _, p := range peers {
		if !oneWay {
			inRules = append(inRules, "-s "+p.String()+" -j DROP")
		}
		outRules = append(outRules, "-d "+p.String()+" -j DROP")
	}
	in.log().Info("partition", "netns", t.HostNetns, "peers", peers, "oneWay", oneWay)
	ipt := in.iptables()
	saved, err := ipt.Save(ctx, t.HostNetns, table)
	if err != nil {
		return fmt.Errorf("partition %s: %w", t.HostNetns, err)
	}
	if err := ipt.Restore(ctx, t.HostNetns, renderRules(saved, partitionChains, t.HostLink, inRules, outRules)); err != nil {
		return fmt.Errorf("partition %s: %w", t.HostNetns, err)
	}
	flush := in.Conntrack
	if flush == nil {
		flush = FlushConntrack
	}
	if err := flush(t.HostNetns, peers); err != nil {
		return fmt.Errorf("partition %s: cut existing connections: %w", t.HostNetns, err)
	}
	return nil
}

// HealPartition removes the target's partition, if any.
func (in Injector) HealPartition(ctx context.Context, t Target) error {
	ipt := in.iptables()
	saved, err := ipt.Save(ctx, t.HostNetns, table)
	if err != nil {
		return fmt.Errorf("heal partition of %s: %w", t.HostNetns, err)
	}
	text := renderHeal(saved, partitionChains)
	if text == nil {
		return nil
	}
	if err := ipt.Restore(ctx, t.HostNetns, text); err != nil {
		return fmt.Errorf("heal partition of %s: %w", t.HostNetns, err)
	}
	return nil
}

// FlushConntrack deletes, in namespace ns, every conntrack entry whose
// original or reply addresses fall in peers. It is Injector.Conntrack's
// real implementation.
func FlushConntrack(ns string, peers []netip.Prefix) error {
	h, err := netns.Handle(netns.Path(ns))
	if err != nil {
		return err
	}
	defer h.Close()
	_, err = h.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, peerFilter(peers))
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// peerFilter matches flows with a peer at either end, either way.
type peerFilter []netip.Prefix

func (f peerFilter) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	for _, ip := range []net.IP{flow.Forward.SrcIP, flow.Forward.DstIP, flow.Reverse.SrcIP, flow.Reverse.DstIP} {
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			continue
		}
		for _, p := range f {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
	}
	return false
}
