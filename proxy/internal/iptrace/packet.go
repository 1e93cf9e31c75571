package iptrace

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Packet is the first packet of a connection, as it reaches the hook.
type Packet struct {
	Src, Dst netip.Addr
	// Proto is the -p name: tcp, udp, sctp (or icmp, which has no port).
	Proto string
	DPort uint16
	// State is the conntrack state that -m conntrack --ctstate sees; ""
	// means NEW. The nat table only sees NEW packets, as in the kernel:
	// later packets follow the connection's first.
	State string
	// Recent names the -m recent lists that hold Src, so that --rcheck
	// matches them; every other --rcheck does not match.
	Recent []string
}

// Hook is where a packet enters the host's netfilter.
type Hook int

const (
	// PreRouting is a packet arriving from outside the host: a pod on its
	// bridge, another host. It goes through nat PREROUTING, then filter
	// INPUT if it is for a local address, or else filter FORWARD and nat
	// POSTROUTING.
	PreRouting Hook = iota
	// Output is a packet the host itself sends: nat OUTPUT, filter OUTPUT,
	// nat POSTROUTING, then filter INPUT if it is for a local address.
	Output
)

func (h Hook) String() string {
	switch h {
	case PreRouting:
		return "PREROUTING"
	case Output:
		return "OUTPUT"
	}
	return fmt.Sprintf("Hook(%d)", int(h))
}

// Outcome is one way a packet can go: -m statistic splits a trace into
// several, each with its probability.
type Outcome struct {
	// Verdict is ACCEPT, DROP or REJECT.
	Verdict string
	// Dst is where the packet goes after any DNAT.
	Dst  netip.AddrPort
	DNAT bool
	// Masquerade tells whether nat POSTROUTING masqueraded the packet.
	Masquerade  bool
	Probability float64
	// Path is the chains the packet went through, as "table/chain", and
	// the rule that decided its fate, for failure messages.
	Path []string
}

// Result is every outcome of a trace, those that end the same way merged,
// sorted by verdict and destination. Their probabilities add up to 1.
type Result struct{ Outcomes []Outcome }

// String shows the outcomes and their paths, one per line.
func (r Result) String() string {
	var b strings.Builder
	for _, o := range r.Outcomes {
		fmt.Fprintf(&b, "%s %s dnat=%v masquerade=%v p=%.6f via %s\n",
			o.Verdict, o.Dst, o.DNAT, o.Masquerade, o.Probability, strings.Join(o.Path, " > "))
	}
	return b.String()
}

// merge adds up outcomes that end the same way and sorts them.
func merge(in []Outcome) Result {
	var out []Outcome
	for _, o := range in {
		i := slices.IndexFunc(out, func(m Outcome) bool {
			return m.Verdict == o.Verdict && m.Dst == o.Dst && m.DNAT == o.DNAT && m.Masquerade == o.Masquerade
		})
		if i < 0 {
			out = append(out, o)
			continue
		}
		out[i].Probability += o.Probability
	}
	slices.SortStableFunc(out, func(a, b Outcome) int {
		return cmp.Or(cmp.Compare(a.Verdict, b.Verdict), a.Dst.Compare(b.Dst))
	})
	return Result{Outcomes: out}
}
