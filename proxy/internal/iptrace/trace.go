package iptrace

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// flow is the packet on one branch of a trace.
type flow struct {
	Packet
	local      []netip.Addr
	mark       uint32
	prob       float64
	dnat, masq bool
	// verdict is "" while the packet goes on, ACCEPT when a table let it
	// through (reset by the next table), or DROP or REJECT.
	verdict string
	path    []string
}

// status tells how a branch leaves a rule.
type status int

const (
	cont status = iota // goes on with the next rule
	ret                // leaves the chain: -j RETURN
	stop               // leaves the table: a verdict, DNAT, MASQUERADE
)

type branch struct {
	f  flow
	st status
}

// maxDepth bounds jumps, as the kernel refuses loops.
const maxDepth = 64

type stage struct{ table, hook string }

// Trace follows the first packet of a connection from the hook through
// the tables, down every branch -m statistic opens, and returns where it
// can end up. An error means the rules cannot be traced: a loop, a target
// in a hook that forbids it, or a packet the tracer cannot model.
func (rs *Ruleset) Trace(h Hook, p Packet) (Result, error) {
	f, err := rs.newFlow(p)
	if err != nil {
		return Result{}, err
	}
	var first []stage
	switch h {
	case PreRouting:
		first = []stage{{"nat", "PREROUTING"}}
	case Output:
		first = []stage{{"nat", "OUTPUT"}, {"filter", "OUTPUT"}, {"nat", "POSTROUTING"}}
	default:
		return Result{}, fmt.Errorf("unknown hook %v", h)
	}
	flows, err := rs.run([]flow{f}, first)
	if err != nil {
		return Result{}, err
	}
	var outcomes []Outcome
	for _, f := range flows {
		after, err := rs.run([]flow{f}, rs.route(h, f))
		if err != nil {
			return Result{}, err
		}
		for _, g := range after {
			outcomes = append(outcomes, g.outcome())
		}
	}
	return merge(outcomes), nil
}

// route is what follows the first tables: local delivery, forwarding, or
// (for the host's own packets to elsewhere) nothing more.
func (rs *Ruleset) route(h Hook, f flow) []stage {
	switch {
	case f.verdict != "":
		return nil
	case slices.Contains(rs.Local, f.Dst):
		return []stage{{"filter", "INPUT"}}
	case h == PreRouting:
		return []stage{{"filter", "FORWARD"}, {"nat", "POSTROUTING"}}
	}
	return nil
}

func (rs *Ruleset) newFlow(p Packet) (flow, error) {
	switch {
	case !p.Src.Is4() || !p.Dst.Is4():
		return flow{}, fmt.Errorf("packet %v -> %v: only IPv4 is traced", p.Src, p.Dst)
	case !slices.Contains([]string{"tcp", "udp", "sctp", "icmp"}, p.Proto):
		return flow{}, fmt.Errorf("packet protocol %q: want tcp, udp, sctp or icmp", p.Proto)
	case isPortProto(p.Proto) && p.DPort == 0:
		return flow{}, errors.New("packet has no destination port")
	}
	if p.State == "" {
		p.State = "NEW"
	}
	return flow{Packet: p, local: rs.Local, prob: 1}, nil
}

// run passes the flows that are still going through the stages in turn.
// The nat table only sees a connection's first packet.
func (rs *Ruleset) run(flows []flow, stages []stage) ([]flow, error) {
	for _, s := range stages {
		var next []flow
		for _, f := range flows {
			if f.verdict != "" || (s.table == "nat" && f.State != "NEW") {
				next = append(next, f)
				continue
			}
			out, err := rs.stage(s, f)
			if err != nil {
				return nil, err
			}
			next = append(next, out...)
		}
		flows = next
	}
	return flows, nil
}

// stage runs a built-in chain; a packet that falls off its end gets the
// chain's policy.
func (rs *Ruleset) stage(s stage, f flow) ([]flow, error) {
	w := &walker{t: rs.tables[s.table], hook: s.hook}
	branches, err := w.chain(s.hook, f, 0)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", s.table, s.hook, err)
	}
	policy := w.t.chains[s.hook].policy
	var out []flow
	for _, b := range branches {
		if b.st != stop && policy != "ACCEPT" {
			b.f.verdict = policy
		}
		if b.f.verdict == "ACCEPT" {
			b.f.verdict = ""
		}
		out = append(out, b.f)
	}
	return out, nil
}

func (f flow) outcome() Outcome {
	v := f.verdict
	if v == "" {
		v = "ACCEPT"
	}
	return Outcome{
		Verdict: v, Dst: netip.AddrPortFrom(f.Dst, f.DPort), DNAT: f.dnat,
		Masquerade: f.masq, Probability: f.prob, Path: f.path,
	}
}
