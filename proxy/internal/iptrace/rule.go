package iptrace

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// rule is one parsed rule. It matches a flow with the product of its
// matches' probabilities: 0 or 1, except for -m statistic.
type rule struct {
	chain   string
	text    string
	matches []match
	target  target
}

type match func(f *flow) float64

// errNotMine is what a module returns for an option that is not its own,
// so the parser can offer it to the next one.
var errNotMine = errors.New("not this module's option")

// module is a -m match being parsed.
type module interface {
	name() string
	// option takes one --option of the module, reading its value with
	// value if it has one.
	option(opt string, neg bool, value func() (string, error)) error
	// finish checks the options given and returns the match, nil for
	// one that matches everything (a comment).
	finish(p *parser) (match, error)
}

// parser reads the arguments of one rule. Every option it does not know
// is an error: the tracer must not pass a test on a rule it misread.
type parser struct {
	table string
	args  []string
	i     int
	proto string
	mods  []module
	r     *rule
	jumpd bool // -j seen: --options may be the target's
}

func parseRule(tableName string, args []string) (*rule, error) {
	p := &parser{table: tableName, args: args, r: &rule{text: strings.Join(args, " ")}}
	for p.i < len(p.args) {
		if err := p.next(); err != nil {
			return nil, fmt.Errorf("rule %q: %w", p.r.text, err)
		}
	}
	if err := p.finish(); err != nil {
		return nil, fmt.Errorf("rule %q: %w", p.r.text, err)
	}
	return p.r, nil
}

func (p *parser) value() (string, error) {
	if p.i >= len(p.args) {
		return "", fmt.Errorf("%s needs a value", p.args[p.i-1])
	}
	p.i++
	return p.args[p.i-1], nil
}

func (p *parser) next() error {
	tok, _ := p.value()
	neg := tok == "!"
	if neg {
		var err error
		if tok, err = p.value(); err != nil {
			return err
		}
	}
	switch tok {
	case "-s", "--source":
		return p.address(neg, func(f *flow) netip.Addr { return f.Src })
	case "-d", "--destination":
		return p.address(neg, func(f *flow) netip.Addr { return f.Dst })
	case "-p", "--protocol":
		return p.protocol(neg)
	case "-m", "--match":
		return p.load(neg)
	case "-j", "--jump":
		return p.jump(neg)
	}
	if strings.HasPrefix(tok, "--") {
		return p.option(tok, neg)
	}
	return fmt.Errorf("unknown argument %q", tok)
}

// address reads the value of -s or -d: an IPv4 address or prefix.
func (p *parser) address(neg bool, of func(*flow) netip.Addr) error {
	v, err := p.value()
	if err != nil {
		return err
	}
	pfx, err := parsePrefix(v)
	if err != nil {
		return err
	}
	p.add(func(f *flow) float64 { return when(pfx.Contains(of(f)) != neg) })
	return nil
}

func parsePrefix(v string) (netip.Prefix, error) {
	if !strings.Contains(v, "/") {
		v += "/32"
	}
	pfx, err := netip.ParsePrefix(v)
	if err != nil || !pfx.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("bad IPv4 address or prefix %q", v)
	}
	if pfx != pfx.Masked() {
		return netip.Prefix{}, fmt.Errorf("prefix %q has host bits set", v)
	}
	return pfx, nil
}

func (p *parser) protocol(neg bool) error {
	v, err := p.value()
	if err != nil {
		return err
	}
	if p.proto != "" {
		return errors.New("-p given twice")
	}
	v = strings.ToLower(v)
	switch v {
	case "tcp", "udp", "sctp", "icmp", "all":
	default:
		return fmt.Errorf("unsupported protocol %q", v)
	}
	p.proto = v
	if neg {
		p.proto = "!" + v
	}
	p.add(func(f *flow) float64 { return when((v == "all" || f.Proto == v) != neg) })
	return nil
}

func (p *parser) load(neg bool) error {
	if neg {
		return errors.New("! before -m")
	}
	v, err := p.value()
	if err != nil {
		return err
	}
	m, err := newModule(v)
	if err != nil {
		return err
	}
	p.mods = append(p.mods, m)
	return nil
}

// option gives an --option to the target, then to the loaded matches from
// the last one, then, as iptables does, to the match of the -p protocol.
func (p *parser) option(opt string, neg bool) error {
	if p.jumpd {
		if err := p.r.target.option(opt, neg, p.value); !errors.Is(err, errNotMine) {
			return err
		}
	}
	for i := len(p.mods) - 1; i >= 0; i-- {
		if err := p.mods[i].option(opt, neg, p.value); !errors.Is(err, errNotMine) {
			return err
		}
	}
	if isPortProto(p.proto) && !p.loaded(p.proto) {
		m := &protoMatch{proto: p.proto}
		p.mods = append(p.mods, m)
		if err := m.option(opt, neg, p.value); !errors.Is(err, errNotMine) {
			return err
		}
	}
	return fmt.Errorf("unknown option %q", opt)
}

func (p *parser) loaded(name string) bool {
	for _, m := range p.mods {
		if m.name() == name {
			return true
		}
	}
	return false
}

func (p *parser) jump(neg bool) error {
	if neg || p.jumpd {
		return errors.New("bad or second -j")
	}
	v, err := p.value()
	if err != nil {
		return err
	}
	p.jumpd = true
	p.r.target = newTarget(v)
	return nil
}

func (p *parser) finish() error {
	for _, m := range p.mods {
		fn, err := m.finish(p)
		if err != nil {
			return fmt.Errorf("-m %s: %w", m.name(), err)
		}
		if fn != nil {
			p.add(fn)
		}
	}
	return p.r.target.finish(p.table)
}

func (p *parser) add(m match) { p.r.matches = append(p.r.matches, m) }

func isPortProto(proto string) bool { return proto == "tcp" || proto == "udp" || proto == "sctp" }

// when turns a condition into a match probability.
func when(ok bool) float64 {
	if ok {
		return 1
	}
	return 0
}
