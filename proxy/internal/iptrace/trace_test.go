package iptrace_test

import (
	"math"
	"net/netip"
	"strings"
	"testing"

	"github.com/kinns/kinns/proxy/internal/iptrace"
)

var (
	host   = netip.MustParseAddr("192.168.0.1")
	client = netip.MustParseAddr("10.1.0.5")
	vip    = netip.MustParseAddr("10.96.0.1")
)

func mustParse(t *testing.T, text string) *iptrace.Ruleset {
	t.Helper()
	rs, err := iptrace.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	rs.Local = []netip.Addr{host}
	return rs
}

func mustTrace(t *testing.T, rs *iptrace.Ruleset, h iptrace.Hook, p iptrace.Packet) iptrace.Result {
	t.Helper()
	res, err := rs.Trace(h, p)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func toVIP(port uint16) iptrace.Packet {
	return iptrace.Packet{Src: client, Dst: vip, Proto: "tcp", DPort: port}
}

// Three statistic rules of 1/3, 1/2 and the rest give three branches of
// equal probability, each DNATed and masqueraded through the mark.
func TestTraceStatisticBranches(t *testing.T) {
	rs := mustParse(t, `*nat
:SVC - [0:0]
:MASQ - [0:0]
-A PREROUTING -d 10.96.0.1/32 -p tcp --dport 80 -j SVC
-A POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A POSTROUTING -j MARK --xor-mark 0x4000
-A POSTROUTING -j MASQUERADE
-A MASQ -j MARK --or-mark 0x4000
-A SVC ! -s 10.1.0.0/16 -j MASQ
-A SVC -m statistic --mode random --probability 0.3333333333 -j DNAT --to-destination 10.2.0.1:8080
-A SVC -m statistic --mode random --probability 0.5 -j DNAT --to-destination 10.2.0.2:8080
-A SVC -p tcp -j DNAT --to-destination 10.2.0.3:8080
COMMIT
`)
	res := mustTrace(t, rs, iptrace.PreRouting, toVIP(80))
	want := []string{"10.2.0.1:8080", "10.2.0.2:8080", "10.2.0.3:8080"}
	if len(res.Outcomes) != 3 {
		t.Fatalf("got %d outcomes, want 3:\n%s", len(res.Outcomes), res)
	}
	for i, o := range res.Outcomes {
		if o.Dst.String() != want[i] || !o.DNAT || o.Masquerade || math.Abs(o.Probability-1.0/3) > 1e-6 {
			t.Errorf("outcome %d: %+v, want DNAT to %s with p=1/3, not masqueraded", i, o, want[i])
		}
	}
	p := toVIP(80)
	p.Src = netip.MustParseAddr("172.16.0.1")
	for _, o := range mustTrace(t, rs, iptrace.PreRouting, p).Outcomes {
		if !o.Masquerade {
			t.Errorf("outcome %s from outside 10.1.0.0/16 is not masqueraded", o.Dst)
		}
	}
	if res := mustTrace(t, rs, iptrace.PreRouting, toVIP(81)); len(res.Outcomes) != 1 || res.Outcomes[0].DNAT {
		t.Errorf("port 81 was DNATed:\n%s", res)
	}
}

// Filter verdicts: REJECT for new connections only, RETURN back to the
// caller, a DROP policy, local delivery through INPUT.
func TestTraceFilter(t *testing.T) {
	rs := mustParse(t, `*filter
:INPUT DROP [0:0]
:SVCS - [0:0]
:SKIP - [0:0]
-A FORWARD -m conntrack --ctstate NEW -j SVCS
-A SVCS -j SKIP
-A SVCS -d 10.96.0.1/32 -p tcp -m tcp --dport 80 -m comment --comment "no endpoints" -j REJECT --reject-with icmp-port-unreachable
-A SKIP -p tcp -m tcp ! --dport 80 -j ACCEPT
-A SKIP -j RETURN
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
`)
	for _, tc := range []struct {
		p    iptrace.Packet
		want string
	}{
		{toVIP(80), "REJECT"},
		{toVIP(81), "ACCEPT"},
		{iptrace.Packet{Src: client, Dst: vip, Proto: "tcp", DPort: 80, State: "ESTABLISHED"}, "ACCEPT"},
		{iptrace.Packet{Src: client, Dst: host, Proto: "tcp", DPort: 22}, "ACCEPT"},
		{iptrace.Packet{Src: client, Dst: host, Proto: "tcp", DPort: 23}, "DROP"},
	} {
		res := mustTrace(t, rs, iptrace.PreRouting, tc.p)
		if len(res.Outcomes) != 1 || res.Outcomes[0].Verdict != tc.want {
			t.Errorf("%+v: got\n%swant %s", tc.p, res, tc.want)
		}
	}
}

// --rcheck matches only the lists the packet says its source is in;
// addrtype LOCAL matches the Ruleset's Local addresses.
func TestTraceRecentAndAddrtype(t *testing.T) {
	rs := mustParse(t, `*nat
:SEP - [0:0]
-A OUTPUT -m recent --name SEP --rcheck --seconds 60 --reap -j SEP
-A OUTPUT -m addrtype --src-type LOCAL -p tcp -j DNAT --to-destination 10.2.0.9
-A SEP -m recent --name SEP --set -p tcp -m tcp -j DNAT --to-destination 10.2.0.1:8080
COMMIT
`)
	p := iptrace.Packet{Src: host, Dst: vip, Proto: "tcp", DPort: 80}
	if got := mustTrace(t, rs, iptrace.Output, p).Outcomes[0].Dst.String(); got != "10.2.0.9:80" {
		t.Errorf("local source: DNAT to %s, want 10.2.0.9:80 (port kept)", got)
	}
	p.Recent = []string{"SEP"}
	if got := mustTrace(t, rs, iptrace.Output, p).Outcomes[0].Dst.String(); got != "10.2.0.1:8080" {
		t.Errorf("remembered source: DNAT to %s, want 10.2.0.1:8080", got)
	}
}

// Rules that the kernel refuses once they are reachable from a hook, and
// loops, are errors at trace time.
func TestTraceRefuses(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"masquerade in prerouting", "*nat\n:X - [0:0]\n-A PREROUTING -j X\n-A X -j MASQUERADE\nCOMMIT\n", "MASQUERADE reached from PREROUTING"},
		{"dnat in postrouting", "*nat\n:X - [0:0]\n-A POSTROUTING -j X\n-A X -p tcp -j DNAT --to-destination 10.0.0.1\nCOMMIT\n", "DNAT reached from POSTROUTING"},
		{"loop", "*nat\n:X - [0:0]\n:Y - [0:0]\n-A X -j Y\n-A Y -j X\n-A PREROUTING -j X\nCOMMIT\n", "too deep"},
	} {
		rs := mustParse(t, tc.text)
		_, err := rs.Trace(iptrace.PreRouting, toVIP(80))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	rs := iptrace.New()
	if _, err := rs.Trace(iptrace.PreRouting, iptrace.Packet{Src: client, Dst: vip, Proto: "gre"}); err == nil {
		t.Error("traced a protocol the tracer does not model")
	}
}

func TestAppendRule(t *testing.T) {
	rs := mustParse(t, "*nat\n:SVCS - [0:0]\n-A SVCS -p tcp -j DNAT --to-destination 10.2.0.1\nCOMMIT\n")
	if err := rs.AppendRule("nat", "PREROUTING", "-m", "comment", "--comment", "two words", "-j", "SVCS"); err != nil {
		t.Fatal(err)
	}
	if err := rs.AppendRule("nat", "PREROUTING", "-j", "MISSING"); err == nil {
		t.Error("appended a jump to a missing chain")
	}
	if res := mustTrace(t, rs, iptrace.PreRouting, toVIP(80)); !res.Outcomes[0].DNAT {
		t.Errorf("jump from PREROUTING not followed:\n%s", res)
	}
}
