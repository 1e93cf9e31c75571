package iptrace

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// restorer applies restore text one line at a time to a copy of the
// table being edited, installed at COMMIT.
type restorer struct {
	rs  *Ruleset
	cur *table
}

func (x *restorer) line(s string) error {
	switch {
	case s == "" || strings.HasPrefix(s, "#"):
		return nil
	case strings.HasPrefix(s, "*"):
		return x.begin(strings.TrimPrefix(s, "*"))
	case x.cur == nil:
		return fmt.Errorf("%q outside a table", s)
	case s == "COMMIT":
		x.rs.tables[x.cur.name] = x.cur
		x.cur = nil
		return nil
	case strings.HasPrefix(s, ":"):
		return x.declare(strings.Fields(strings.TrimPrefix(s, ":")))
	}
	args, err := tokenize(s)
	if err != nil {
		return err
	}
	return x.command(args)
}

func (x *restorer) begin(name string) error {
	if x.cur != nil {
		return fmt.Errorf("table %s starts before %s is committed", name, x.cur.name)
	}
	t, ok := x.rs.tables[name]
	if !ok {
		return fmt.Errorf("unsupported table %q", name)
	}
	x.cur = t.clone()
	return nil
}

// declare handles ":NAME POLICY [packets:bytes]". A user chain has policy
// "-" and is created or, if it exists, flushed.
func (x *restorer) declare(f []string) error {
	if len(f) < 2 || len(f) > 3 {
		return fmt.Errorf("bad chain declaration %q", strings.Join(f, " "))
	}
	name, policy := f[0], f[1]
	if c, ok := x.cur.chains[name]; ok && c.builtin {
		if policy != "ACCEPT" && policy != "DROP" {
			return fmt.Errorf("built-in chain %s: bad policy %q", name, policy)
		}
		c.policy = policy
		return nil
	}
	if policy != "-" {
		return fmt.Errorf("user chain %s cannot have policy %q", name, policy)
	}
	if err := validChainName(name); err != nil {
		return err
	}
	x.cur.chains[name] = &chain{name: name}
	return nil
}

// command handles -A, -I, -N, -F and -X; anything else is refused rather than
// ignored, so that a test never passes on rules it did not understand.
func (x *restorer) command(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("incomplete command %q", strings.Join(args, " "))
	}
	op, name, rest := args[0], args[1], args[2:]
	switch op {
	case "-A", "--append":
		return x.cur.appendRule(name, rest)
	case "-I", "--insert":
		return x.insert(name, rest)
	case "-N", "--new-chain":
		return x.declare([]string{name, "-"})
	case "-F", "--flush":
		return x.flush(name)
	case "-X", "--delete-chain":
		return x.deleteChain(name)
	}
	return fmt.Errorf("unsupported command %q", op)
}

// insert handles -I CHAIN [N] RULE: at rule number N (from 1; default 1),
// or at the end when N is one past the last rule, as iptables allows.
func (x *restorer) insert(name string, rest []string) error {
	pos := 1
	if len(rest) > 0 {
		if n, err := strconv.Atoi(rest[0]); err == nil {
			pos, rest = n, rest[1:]
		}
	}
	return x.cur.insertRule(name, pos, rest)
}

func (x *restorer) flush(name string) error {
	c, ok := x.cur.chains[name]
	if !ok {
		return fmt.Errorf("flush %s: no such chain", name)
	}
	c.rules = nil
	return nil
}

// deleteChain refuses what the kernel refuses: built-in, missing, non
// empty or still referenced chains.
func (x *restorer) deleteChain(name string) error {
	c, ok := x.cur.chains[name]
	switch {
	case !ok:
		return fmt.Errorf("delete %s: no such chain", name)
	case c.builtin:
		return fmt.Errorf("delete %s: built-in chain", name)
	case len(c.rules) > 0:
		return fmt.Errorf("delete %s: chain is not empty", name)
	case x.cur.referenced(name):
		return fmt.Errorf("delete %s: chain is still referenced", name)
	}
	delete(x.cur.chains, name)
	return nil
}

func validChainName(name string) error {
	switch {
	case name == "":
		return errors.New("empty chain name")
	case len(name) > 28:
		return fmt.Errorf("chain name %q longer than 28 characters", name)
	case strings.HasPrefix(name, "-") || strings.ContainsAny(name, " \t\"!"):
		return fmt.Errorf("bad chain name %q", name)
	case isTargetName(name):
		return fmt.Errorf("chain name %q is a target", name)
	}
	return nil
}
