package iptrace

import (
	"errors"
	"fmt"
	"net/netip"
)

type targetKind int

const (
	targetNone targetKind = iota // no -j: the rule only counts
	targetJump
	targetReturn
	targetAccept
	targetDrop
	targetReject
	targetDNAT
	targetMark
	targetMasquerade
)

var targetKinds = map[string]targetKind{
	"RETURN": targetReturn, "ACCEPT": targetAccept, "DROP": targetDrop, "REJECT": targetReject,
	"DNAT": targetDNAT, "MARK": targetMark, "MASQUERADE": targetMasquerade,
}

// isTargetName tells whether name is a target the tracer knows, and so
// cannot be a chain.
func isTargetName(name string) bool { _, ok := targetKinds[name]; return ok }

// target is a rule's -j and its options.
type target struct {
	kind  targetKind
	chain string // targetJump
	to    netip.AddrPort
	mark  func(uint32) uint32
	opts  int
}

func newTarget(name string) target {
	if k, ok := targetKinds[name]; ok {
		return target{kind: k, chain: name}
	}
	return target{kind: targetJump, chain: name}
}

func (t *target) option(opt string, neg bool, value func() (string, error)) error {
	if neg {
		return fmt.Errorf("! %s is not supported", opt)
	}
	var err error
	switch {
	case t.kind == targetReject && opt == "--reject-with":
		_, err = value()
	case t.kind == targetDNAT && opt == "--to-destination":
		err = t.dnatTo(value)
	case t.kind == targetMark:
		err = t.markOp(opt, value)
	case t.kind == targetMasquerade && (opt == "--random-fully" || opt == "--random"):
	default:
		return errNotMine
	}
	t.opts++
	return err
}

// dnatTo reads ip[:port]; without a port the destination port is kept.
func (t *target) dnatTo(value func() (string, error)) error {
	v, err := value()
	if err != nil {
		return err
	}
	if ap, err := netip.ParseAddrPort(v); err == nil && ap.Addr().Is4() && ap.Port() != 0 {
		t.to = ap
		return nil
	}
	if ip, err := netip.ParseAddr(v); err == nil && ip.Is4() {
		t.to = netip.AddrPortFrom(ip, 0)
		return nil
	}
	return fmt.Errorf("bad --to-destination %q (ranges are not supported)", v)
}

func (t *target) markOp(opt string, value func() (string, error)) error {
	if t.mark != nil {
		return errors.New("MARK takes one operation")
	}
	v, err := value()
	if err != nil {
		return err
	}
	val, mask, err := parseMark(v)
	if err != nil {
		return err
	}
	switch opt {
	case "--or-mark":
		t.mark = func(m uint32) uint32 { return m | val }
	case "--xor-mark":
		t.mark = func(m uint32) uint32 { return m ^ val }
	case "--and-mark":
		t.mark = func(m uint32) uint32 { return m & val }
	case "--set-xmark":
		t.mark = func(m uint32) uint32 { return (m &^ mask) ^ val }
	case "--set-mark":
		t.mark = func(m uint32) uint32 { return (m &^ mask) | val }
	default:
		return errNotMine
	}
	return nil
}

// finish checks what the kernel checks when the rule is added: the
// options a target needs and the tables it may be used in.
func (t *target) finish(tableName string) error {
	switch t.kind {
	case targetDNAT:
		if !t.to.Addr().IsValid() {
			return errors.New("DNAT needs --to-destination")
		}
		return onlyIn(tableName, "nat", "DNAT")
	case targetMasquerade:
		return onlyIn(tableName, "nat", "MASQUERADE")
	case targetMark:
		if t.mark == nil {
			return errors.New("MARK needs an operation")
		}
	case targetDrop, targetReject:
		return onlyIn(tableName, "filter", t.chain)
	case targetJump, targetReturn, targetAccept, targetNone:
		if t.opts > 0 {
			return fmt.Errorf("-j %s takes no options", t.chain)
		}
	}
	return nil
}

func onlyIn(tableName, want, what string) error {
	if tableName != want {
		return fmt.Errorf("%s is not allowed in the %s table", what, tableName)
	}
	return nil
}
