package rules

import (
	"bytes"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// table collects the chains of ours in one iptables table, in the order
// they were first named, each with its rules.
type table struct {
	name   string
	chains []*chain
	byName map[string]*chain
}

type chain struct {
	name  string
	rules []string
}

func newTable(name string, topLevel ...string) *table {
	t := &table{name: name, byName: make(map[string]*chain)}
	for _, c := range topLevel {
		t.declare(c)
	}
	return t
}

// declare makes sure the chain is rendered, even if it stays empty.
func (t *table) declare(name string) {
	if t.byName[name] == nil {
		c := &chain{name: name}
		t.chains = append(t.chains, c)
		t.byName[name] = c
	}
}

func (t *table) has(name string) bool { return t.byName[name] != nil }

// add appends a rule to the chain, declaring the chain if needed.
func (t *table) add(name string, args ...[]string) {
	t.declare(name)
	t.byName[name].rules = append(t.byName[name].rules, strings.Join(slices.Concat(args...), " "))
}

// write renders the table for iptables-restore --noflush: declaring a
// chain flushes it, so a rendered chain holds exactly our rules; a stale
// chain is flushed before it is deleted so that nothing it jumps to is
// still in use. It returns the number of rules written.
func (t *table) write(b *bytes.Buffer, stale []string) int {
	b.WriteString("*" + t.name + "\n")
	for _, c := range t.chains {
		b.WriteString(":" + c.name + " - [0:0]\n")
	}
	for _, name := range stale {
		b.WriteString(":" + name + " - [0:0]\n")
	}
	n := 0
	for _, c := range t.chains {
		for _, r := range c.rules {
			b.WriteString("-A " + c.name + " " + r + "\n")
			n++
		}
	}
	for _, name := range stale {
		b.WriteString("-X " + name + "\n")
	}
	b.WriteString("COMMIT\n")
	return n
}

// stale lists the chains of ours in existing that this rendering does not
// have, sorted and once each. Chains without our prefix are not ours.
func (t *table) stale(existing []string) []string {
	var out []string
	for _, name := range existing {
		if strings.HasPrefix(name, Prefix) && !t.has(name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Rule fragments, each a list of arguments for table.add.

func comment(text string) []string {
	// Service and port names cannot hold a double quote, so quoting is
	// enough for iptables-restore to read the comment as one argument.
	return []string{"-m", "comment", "--comment", `"` + text + `"`}
}

func jump(target string) []string { return []string{"-j", target} }

func src(ip netip.Addr) []string { return []string{"-s", host(ip)} }

func dst(ip netip.Addr) []string { return []string{"-d", host(ip)} }

func host(ip netip.Addr) string { return netip.PrefixFrom(ip, ip.BitLen()).String() }

// fromPods matches traffic from the pod network, negated for traffic from
// elsewhere. With no ClusterCIDR it is nil, matching everything.
func fromPods(cidr netip.Prefix, negate bool) []string {
	if !cidr.IsValid() {
		return nil
	}
	if negate {
		return []string{"!", "-s", cidr.String()}
	}
	return []string{"-s", cidr.String()}
}

// dport matches a protocol and destination port; iptables needs the
// protocol's match module loaded for --dport.
func dport(proto string, port uint16) []string {
	return []string{"-p", proto, "-m", proto, "--dport", strconv.Itoa(int(port))}
}
