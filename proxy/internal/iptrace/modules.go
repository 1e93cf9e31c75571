package iptrace

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

func newModule(name string) (module, error) {
	switch name {
	case "tcp", "udp", "sctp":
		return &protoMatch{proto: name}, nil
	case "comment":
		return &commentMatch{}, nil
	case "statistic":
		return &statisticMatch{}, nil
	case "recent":
		return &recentMatch{listName: "DEFAULT"}, nil
	case "mark":
		return &markMatch{}, nil
	case "conntrack":
		return &conntrackMatch{}, nil
	case "addrtype":
		return &addrtypeMatch{}, nil
	}
	return nil, fmt.Errorf("unsupported match module %q", name)
}

// protoMatch is -m tcp, udp or sctp: the destination port only.
type protoMatch struct {
	proto string
	port  uint16
	neg   bool
}

func (m *protoMatch) name() string { return m.proto }

func (m *protoMatch) option(opt string, neg bool, value func() (string, error)) error {
	if opt != "--dport" && opt != "--destination-port" {
		return errNotMine
	}
	v, err := value()
	if err != nil {
		return err
	}
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil || n == 0 {
		return fmt.Errorf("bad port %q (ranges are not supported)", v)
	}
	m.port, m.neg = uint16(n), neg
	return nil
}

func (m *protoMatch) finish(p *parser) (match, error) {
	if p.proto != m.proto {
		return nil, fmt.Errorf("needs -p %s, rule has %q", m.proto, p.proto)
	}
	if m.port == 0 {
		return nil, nil
	}
	return func(f *flow) float64 { return when((f.DPort == m.port) != m.neg) }, nil
}

type commentMatch struct{ text *string }

func (m *commentMatch) name() string { return "comment" }

func (m *commentMatch) option(opt string, neg bool, value func() (string, error)) error {
	if opt != "--comment" {
		return errNotMine
	}
	v, err := value()
	if err != nil {
		return err
	}
	if neg || len(v) > 256 {
		return fmt.Errorf("bad comment %q", v)
	}
	m.text = &v
	return nil
}

func (m *commentMatch) finish(*parser) (match, error) {
	if m.text == nil {
		return nil, errors.New("no --comment")
	}
	return nil, nil
}

// statisticMatch is -m statistic --mode random: it matches with a
// probability, which the tracer follows down both branches.
type statisticMatch struct {
	mode string
	prob *float64
}

func (m *statisticMatch) name() string { return "statistic" }

func (m *statisticMatch) option(opt string, neg bool, value func() (string, error)) error {
	if opt != "--mode" && opt != "--probability" {
		return errNotMine
	}
	v, err := value()
	if err != nil {
		return err
	}
	if neg {
		return fmt.Errorf("! %s is not supported", opt)
	}
	if opt == "--mode" {
		m.mode = v
		return nil
	}
	pr, err := strconv.ParseFloat(v, 64)
	if err != nil || pr < 0 || pr > 1 {
		return fmt.Errorf("bad probability %q", v)
	}
	m.prob = &pr
	return nil
}

func (m *statisticMatch) finish(*parser) (match, error) {
	if m.mode != "random" || m.prob == nil {
		return nil, errors.New("only --mode random --probability P is supported")
	}
	pr := *m.prob
	return func(*flow) float64 { return pr }, nil
}

// recentMatch is -m recent with --set (always matches; the tracer keeps
// no lists) or --rcheck (matches the lists named in Packet.Recent).
type recentMatch struct {
	listName                 string
	set, rcheck, reap, rdest bool
	seconds                  int
}

func (m *recentMatch) name() string { return "recent" }

func (m *recentMatch) option(opt string, neg bool, value func() (string, error)) error {
	if neg {
		return fmt.Errorf("! %s is not supported", opt)
	}
	var err error
	switch opt {
	case "--name":
		m.listName, err = value()
	case "--set":
		m.set = true
	case "--rcheck":
		m.rcheck = true
	case "--reap":
		m.reap = true
	case "--rsource":
	case "--rdest":
		m.rdest = true
	case "--mask":
		var v string
		if v, err = value(); err == nil && v != "255.255.255.255" {
			err = fmt.Errorf("--mask %s is not supported", v)
		}
	case "--seconds":
		var v string
		if v, err = value(); err == nil {
			m.seconds, err = strconv.Atoi(v)
		}
	default:
		return errNotMine
	}
	return err
}

func (m *recentMatch) finish(*parser) (match, error) {
	switch {
	case m.set == m.rcheck:
		return nil, errors.New("needs exactly one of --set and --rcheck")
	case m.rdest:
		return nil, errors.New("--rdest is not supported")
	case m.reap && m.seconds <= 0:
		return nil, errors.New("--reap needs --seconds")
	case m.set && m.seconds != 0:
		return nil, errors.New("--seconds goes with --rcheck")
	case m.set:
		return func(*flow) float64 { return 1 }, nil
	}
	return func(f *flow) float64 { return when(slices.Contains(f.Recent, m.listName)) }, nil
}

// markMatch is -m mark [!] --mark value[/mask].
type markMatch struct {
	value, mask uint32
	neg, given  bool
}

func (m *markMatch) name() string { return "mark" }

func (m *markMatch) option(opt string, neg bool, value func() (string, error)) error {
	if opt != "--mark" {
		return errNotMine
	}
	v, err := value()
	if err != nil {
		return err
	}
	m.value, m.mask, err = parseMark(v)
	m.neg, m.given = neg, true
	return err
}

func (m *markMatch) finish(*parser) (match, error) {
	if !m.given {
		return nil, errors.New("no --mark")
	}
	return func(f *flow) float64 { return when((f.mark&m.mask == m.value) != m.neg) }, nil
}

// parseMark reads value[/mask]; without a mask every bit counts.
func parseMark(s string) (value, mask uint32, err error) {
	v, mk, hasMask := strings.Cut(s, "/")
	val, err := strconv.ParseUint(v, 0, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("bad mark %q", s)
	}
	msk := uint64(0xffffffff)
	if hasMask {
		if msk, err = strconv.ParseUint(mk, 0, 32); err != nil {
			return 0, 0, fmt.Errorf("bad mark mask %q", s)
		}
	}
	return uint32(val), uint32(msk), nil
}

// conntrackMatch is -m conntrack [!] --ctstate LIST, against Packet.State.
type conntrackMatch struct {
	states []string
	neg    bool
}

func (m *conntrackMatch) name() string { return "conntrack" }

func (m *conntrackMatch) option(opt string, neg bool, value func() (string, error)) error {
	if opt != "--ctstate" {
		return errNotMine
	}
	v, err := value()
	if err != nil {
		return err
	}
	for _, s := range strings.Split(v, ",") {
		if !slices.Contains([]string{"NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"}, s) {
			return fmt.Errorf("unsupported ctstate %q", s)
		}
	}
	m.states, m.neg = strings.Split(v, ","), neg
	return nil
}

func (m *conntrackMatch) finish(*parser) (match, error) {
	if m.states == nil {
		return nil, errors.New("no --ctstate")
	}
	return func(f *flow) float64 { return when(slices.Contains(m.states, f.State) != m.neg) }, nil
}

// addrtypeMatch is -m addrtype with type LOCAL: the host's own addresses,
// Ruleset.Local.
type addrtypeMatch struct{ checks []match }

func (m *addrtypeMatch) name() string { return "addrtype" }

func (m *addrtypeMatch) option(opt string, neg bool, value func() (string, error)) error {
	if opt != "--src-type" && opt != "--dst-type" {
		return errNotMine
	}
	v, err := value()
	if err != nil {
		return err
	}
	if v != "LOCAL" {
		return fmt.Errorf("addrtype %s is not supported", v)
	}
	src := opt == "--src-type"
	m.checks = append(m.checks, func(f *flow) float64 {
		a := f.Dst
		if src {
			a = f.Src
		}
		return when(slices.Contains(f.local, a) != neg)
	})
	return nil
}

func (m *addrtypeMatch) finish(*parser) (match, error) {
	if len(m.checks) == 0 {
		return nil, errors.New("no --src-type or --dst-type")
	}
	return func(f *flow) float64 {
		p := 1.0
		for _, c := range m.checks {
			p *= c(f)
		}
		return p
	}, nil
}
