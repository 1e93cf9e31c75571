package iptrace

import (
	"errors"
	"fmt"
	"slices"
)

// walker follows flows through the chains of one table at one hook.
type walker struct {
	t    *table
	hook string
}

// chain runs the flow through a chain. A branch that falls off the end or
// returns comes back with status cont, for the caller's next rule.
func (w *walker) chain(name string, in flow, depth int) ([]branch, error) {
	if depth > maxDepth {
		return nil, errors.New("jumps nest too deep (a loop?)")
	}
	c := w.t.chains[name]
	if err := w.allowed(c); err != nil {
		return nil, err
	}
	in.path = append(slices.Clip(in.path), w.t.name+"/"+name)
	active := []flow{in}
	var out []branch
	for _, r := range c.rules {
		next, done, err := w.rule(r, active, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, done...)
		active = next
	}
	for _, f := range active {
		out = append(out, branch{f, cont})
	}
	return out, nil
}

// rule splits each flow into the part the rule matches, which takes its
// target, and the rest, which goes on to the next rule.
func (w *walker) rule(r *rule, active []flow, depth int) (next []flow, done []branch, err error) {
	for _, f := range active {
		q := r.match(&f)
		if q < 1 {
			rest := f
			rest.prob *= 1 - q
			next = append(next, rest)
		}
		if q == 0 {
			continue
		}
		taken := f
		taken.prob *= q
		branches, err := w.apply(r, taken, depth)
		if err != nil {
			return nil, nil, err
		}
		for _, b := range branches {
			switch b.st {
			case cont:
				next = append(next, b.f)
			case ret:
				done = append(done, branch{b.f, cont})
			case stop:
				done = append(done, b)
			}
		}
	}
	return next, done, nil
}

func (r *rule) match(f *flow) float64 {
	q := 1.0
	for _, m := range r.matches {
		if q *= m(f); q == 0 {
			return 0
		}
	}
	return q
}

func (w *walker) apply(r *rule, f flow, depth int) ([]branch, error) {
	t := r.target
	switch t.kind {
	case targetJump:
		return w.chain(t.chain, f, depth+1)
	case targetReturn:
		return []branch{{f, ret}}, nil
	case targetMark:
		f.mark = t.mark(f.mark)
		return []branch{{f, cont}}, nil
	case targetDNAT:
		f.Dst, f.dnat = t.to.Addr(), true
		if t.to.Port() != 0 {
			f.DPort = t.to.Port()
		}
	case targetMasquerade:
		f.masq = true
	case targetNone:
		return []branch{{f, cont}}, nil
	}
	f.verdict = "ACCEPT"
	if t.kind == targetDrop || t.kind == targetReject {
		f.verdict = t.chain
	}
	f.path = append(slices.Clip(f.path), "-A "+r.chain+" "+r.text)
	return []branch{{f, stop}}, nil
}

// allowed refuses, as the kernel does when a jump makes a chain reachable
// from a hook, targets that hook cannot run.
func (w *walker) allowed(c *chain) error {
	for _, r := range c.rules {
		switch k := r.target.kind; {
		case k == targetDNAT && w.hook != "PREROUTING" && w.hook != "OUTPUT":
			return fmt.Errorf("chain %s: DNAT reached from %s", c.name, w.hook)
		case k == targetMasquerade && w.hook != "POSTROUTING":
			return fmt.Errorf("chain %s: MASQUERADE reached from %s", c.name, w.hook)
		}
	}
	return nil
}
