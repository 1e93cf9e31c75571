package linkfault

import (
	"context"
	"errors"
	"fmt"
)

// applyRate puts a token bucket on the egress of both veth ends: the host's
// end limits what the host sends, the fabric's end what it receives.
func (in Injector) applyRate(t Target, bits uint64) error {
	q := Qdisc{Kind: "tbf", Handle: rateHandle, TBF: tbfFor(bits)}
	return in.replaceBoth(t, q)
}

// applyDelay uses netem on both ends where the kernel has it; otherwise it
// queues the link's packets to NFQUEUE and asks for a delayer.
func (in Injector) applyDelay(ctx context.Context, t Target, f Fault) (Applied, error) {
	if in.Delay != DelayNFQueue {
		q := Qdisc{Kind: "netem", Handle: delayHandle}
		q.Delay.Latency, q.Delay.Jitter = f.Delay, f.Jitter
		err := in.replaceBoth(t, q)
		if err == nil {
			// A delay done another way before is replaced, not doubled.
			return Applied{Via: "netem"}, in.healRules(ctx, t, Delay)
		}
		if in.Delay == DelayNetem || !errors.Is(err, ErrNotSupported) {
			return Applied{}, err
		}
		in.log().Info("no netem in this kernel: delay through NFQUEUE", "netns", t.HostNetns)
	}
	cfg := DelayerConfig{Queue: in.queue(), Delay: f.Delay, Jitter: f.Jitter}
	if err := in.healRoot(t, "netem", delayHandle); err != nil {
		return Applied{}, err
	}
	if err := in.applyRules(ctx, t, Delay, queueRule(cfg.Queue)); err != nil {
		return Applied{}, err
	}
	return Applied{Via: "nfqueue", Delayer: &cfg}, nil
}

// replaceBoth puts q at the root of both ends, or of neither.
func (in Injector) replaceBoth(t Target, q Qdisc) error {
	var done []end
	for _, e := range t.ends() {
		if err := in.replaceRoot(e, q); err != nil {
			for _, d := range done {
				if uerr := in.netlink().DeleteRoot(d.Netns, d.Link, q.Handle); uerr != nil {
					in.log().Warn("undo qdisc", "link", d.String(), "err", uerr)
				}
			}
			return err
		}
		done = append(done, e)
	}
	return nil
}

// replaceRoot replaces the kernel's default qdisc or ours of the same kind;
// anything else is someone else's and stays.
func (in Injector) replaceRoot(e end, q Qdisc) error {
	cur, err := in.netlink().Root(e.Netns, e.Link)
	if err != nil {
		return err
	}
	if !replaceable(cur, q) {
		return fmt.Errorf("%s: %w: %s %x: heal the other fault first", e, ErrBusy, cur.Kind, cur.Handle)
	}
	return in.netlink().ReplaceRoot(e.Netns, e.Link, q)
}

// replaceable says whether q may take the place of root cur: the kernel's
// default (it has handle 0) or ours for the same fault.
func replaceable(cur, q Qdisc) bool {
	if cur.Handle == q.Handle {
		return cur.Kind == q.Kind
	}
	return cur.Handle == 0
}

// healRoot removes our root qdisc of kind from both ends, if it is there.
func (in Injector) healRoot(t Target, kind string, handle uint32) error {
	var errs []error
	for _, e := range t.ends() {
		cur, err := in.netlink().Root(e.Netns, e.Link)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if cur.Handle == handle && cur.Kind == kind {
			errs = append(errs, in.netlink().DeleteRoot(e.Netns, e.Link, handle))
		}
	}
	return errors.Join(errs...)
}
