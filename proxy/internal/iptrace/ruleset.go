package iptrace

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// Ruleset is a host's filter and nat tables, as iptables-restore would
// leave them.
type Ruleset struct {
	// Local holds the host's own addresses. They decide whether a packet
	// goes to filter INPUT or FORWARD, and what -m addrtype LOCAL matches.
	Local  []netip.Addr
	tables map[string]*table
}

// builtins are the chains each table starts with, policy ACCEPT.
var builtins = map[string][]string{
	"filter": {"INPUT", "FORWARD", "OUTPUT"},
	"nat":    {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
}

type table struct {
	name   string
	chains map[string]*chain
}

type chain struct {
	name    string
	builtin bool
	policy  string // ACCEPT or DROP; built-in chains only
	rules   []*rule
}

// New returns empty tables: built-in chains only, with no rules.
func New() *Ruleset {
	rs := &Ruleset{tables: make(map[string]*table)}
	for name, chains := range builtins {
		t := &table{name: name, chains: make(map[string]*chain)}
		for _, c := range chains {
			t.chains[c] = &chain{name: c, builtin: true, policy: "ACCEPT"}
		}
		rs.tables[name] = t
	}
	return rs
}

// Parse returns New tables after Restore of text.
func Parse(text []byte) (*Ruleset, error) {
	rs := New()
	if err := rs.Restore(text); err != nil {
		return nil, err
	}
	return rs, nil
}

// Restore applies text as `iptables-restore --noflush` does: declaring a
// chain creates or flushes it, each table changes only at its COMMIT. On
// error the tables committed before the bad one stay changed, as with
// the real tool.
func (rs *Ruleset) Restore(text []byte) error {
	x := &restorer{rs: rs}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		if err := x.line(strings.TrimSpace(sc.Text())); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read rules: %w", err)
	}
	if x.cur != nil {
		return fmt.Errorf("table %s: no COMMIT", x.cur.name)
	}
	return nil
}

// AppendRule appends a rule given as exec arguments (no quoting) to a
// chain, as `iptables -t table -A chain args...` does. Tests use it to
// install the jumps from built-in chains that the proxy adds itself.
func (rs *Ruleset) AppendRule(tableName, chainName string, args ...string) error {
	t, ok := rs.tables[tableName]
	if !ok {
		return fmt.Errorf("unknown table %q", tableName)
	}
	if err := t.appendRule(chainName, args); err != nil {
		return fmt.Errorf("append to %s/%s: %w", tableName, chainName, err)
	}
	return nil
}

// Chains returns the names of the chains in a table, sorted.
func (rs *Ruleset) Chains(tableName string) []string {
	t, ok := rs.tables[tableName]
	if !ok {
		return nil
	}
	return slices.Sorted(maps.Keys(t.chains))
}

// Rules returns a chain's rules as they were written, nil if there is no
// such chain.
func (rs *Ruleset) Rules(tableName, chainName string) []string {
	t, ok := rs.tables[tableName]
	if !ok || t.chains[chainName] == nil {
		return nil
	}
	var out []string
	for _, r := range t.chains[chainName].rules {
		out = append(out, r.text)
	}
	return out
}

func (t *table) clone() *table {
	c := &table{name: t.name, chains: make(map[string]*chain, len(t.chains))}
	for name, ch := range t.chains {
		cp := *ch
		cp.rules = slices.Clone(ch.rules)
		c.chains[name] = &cp
	}
	return c
}

func (t *table) appendRule(chainName string, args []string) error {
	c, r, err := t.newRule(chainName, args)
	if err != nil {
		return err
	}
	c.rules = append(c.rules, r)
	return nil
}

// insertRule puts a rule at position pos (from 1) of a chain.
func (t *table) insertRule(chainName string, pos int, args []string) error {
	c, r, err := t.newRule(chainName, args)
	if err != nil {
		return err
	}
	if pos < 1 || pos > len(c.rules)+1 {
		return fmt.Errorf("insert into %s at %d: the chain has %d rules", chainName, pos, len(c.rules))
	}
	c.rules = slices.Insert(c.rules, pos-1, r)
	return nil
}

// newRule parses a rule for a chain of the table.
func (t *table) newRule(chainName string, args []string) (*chain, *rule, error) {
	c, ok := t.chains[chainName]
	if !ok {
		return nil, nil, fmt.Errorf("no chain %q", chainName)
	}
	r, err := parseRule(t.name, args)
	if err != nil {
		return nil, nil, err
	}
	r.chain = chainName
	if r.target.kind == targetJump && t.chains[r.target.chain] == nil {
		return nil, nil, fmt.Errorf("jump to %q, which does not exist", r.target.chain)
	}
	return c, r, nil
}

// referenced tells whether any rule in the table jumps to the chain.
func (t *table) referenced(name string) bool {
	for _, c := range t.chains {
		for _, r := range c.rules {
			if r.target.kind == targetJump && r.target.chain == name {
				return true
			}
		}
	}
	return false
}
