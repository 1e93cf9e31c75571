package iptrace_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/kinns/kinns/proxy/internal/iptrace"
)

// restore wraps rule lines in a nat or filter table with chains A and B.
func restore(table string, lines ...string) string {
	return "*" + table + "\n:A - [0:0]\n:B - [0:0]\n" + strings.Join(lines, "\n") + "\nCOMMIT\n"
}

// The tracer refuses what it does not understand, and what the kernel or
// iptables-restore would refuse, instead of tracing something else.
func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"unknown option", restore("nat", "-A A -p tcp -m tcp --sport 80 -j B"), `unknown option "--sport"`},
		{"unknown module", restore("nat", "-A A -m string --string x -j B"), `unsupported match module "string"`},
		{"unknown argument", restore("nat", "-A A -x -j B"), `unknown argument "-x"`},
		{"option of no module", restore("nat", "-A A --comment x -j B"), `unknown option "--comment"`},
		{"target option", restore("nat", "-A A -j B --to-destination 10.0.0.1"), `unknown option "--to-destination"`},
		{"dport without protocol", restore("nat", "-A A -m tcp --dport 80 -j B"), "needs -p tcp"},
		{"port range", restore("nat", "-A A -p tcp -m tcp --dport 80:90 -j B"), "ranges are not supported"},
		{"bad address", restore("nat", "-A A -s 10.0.0.300 -j B"), "bad IPv4 address"},
		{"host bits", restore("nat", "-A A -s 10.0.0.1/8 -j B"), "host bits"},
		{"ipv6", restore("nat", "-A A -d fd00::1 -j B"), "bad IPv4 address"},
		{"missing value", restore("nat", "-A A -s"), "-s needs a value"},
		{"jump to nothing", restore("nat", "-A A -j C"), `jump to "C", which does not exist`},
		{"append to nothing", restore("nat", "-A C -j B"), `no chain "C"`},
		{"DNAT in filter", restore("filter", "-A A -p tcp -j DNAT --to-destination 10.0.0.1:80"), "DNAT is not allowed in the filter table"},
		{"DROP in nat", restore("nat", "-A A -j DROP"), "DROP is not allowed in the nat table"},
		{"DNAT without destination", restore("nat", "-A A -j DNAT"), "DNAT needs --to-destination"},
		{"statistic mode", restore("nat", "-A A -m statistic --mode nth --probability 0.5 -j B"), "only --mode random"},
		{"probability", restore("nat", "-A A -m statistic --mode random --probability 2 -j B"), "bad probability"},
		{"recent set and rcheck", restore("nat", "-A A -m recent --name X --set --rcheck -j B"), "exactly one of --set and --rcheck"},
		{"recent update", restore("nat", "-A A -m recent --name X --update -j B"), `unknown option "--update"`},
		{"addrtype", restore("nat", "-A A -m addrtype --dst-type BROADCAST -j B"), "addrtype BROADCAST"},
		{"ctstate", restore("filter", "-A A -m conntrack --ctstate NEW,SNAT -j ACCEPT"), `unsupported ctstate "SNAT"`},
		{"comment", restore("nat", `-A A -m comment --comment "unterminated -j B`), "unterminated quote"},
		{"delete referenced", restore("nat", "-A A -j B", "-X B"), "chain is still referenced"},
		{"delete non-empty", restore("nat", "-A A -j B", "-X A"), "chain is not empty"},
		{"delete built-in", restore("nat", "-X PREROUTING"), "built-in chain"},
		{"insert past the end", restore("nat", "-I A 2 -j B"), "the chain has 0 rules"},
		{"unknown command", restore("nat", "-R A 1 -j B"), `unsupported command "-R"`},
		{"long name", "*nat\n:KINNS-SVC-0123456789ABCDEFGHIJ - [0:0]\nCOMMIT\n", "longer than 28"},
		{"policy on user chain", "*nat\n:A ACCEPT [0:0]\nCOMMIT\n", "cannot have policy"},
		{"no commit", "*nat\n:A - [0:0]\n", "no COMMIT"},
		{"outside a table", ":A - [0:0]\n", "outside a table"},
		{"unknown table", "*mangle\nCOMMIT\n", `unsupported table "mangle"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := iptrace.Parse([]byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse: got error %v, want one with %q", err, tc.want)
			}
		})
	}
}

func TestParseReportsLine(t *testing.T) {
	_, err := iptrace.Parse([]byte(restore("nat", "-A A -j B", "-A A -j NOWHERE")))
	if err == nil || !strings.HasPrefix(err.Error(), "line 5: ") {
		t.Errorf("got %v, want an error on line 5", err)
	}
}

// Restore works as --noflush: a declared chain is flushed, other chains
// keep their rules, and a table with an error is not changed.
func TestRestoreNoFlush(t *testing.T) {
	rs, err := iptrace.Parse([]byte(restore("nat", "-A A -j B", "-A B -j RETURN")))
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Restore([]byte("*nat\n:A - [0:0]\n-A A -s 10.0.0.0/8 -j B\nCOMMIT\n")); err != nil {
		t.Fatal(err)
	}
	if got := rs.Rules("nat", "A"); len(got) != 1 || got[0] != "-s 10.0.0.0/8 -j B" {
		t.Errorf("A = %q, want only the new rule", got)
	}
	if got := rs.Rules("nat", "B"); len(got) != 1 {
		t.Errorf("B = %q, want its rule kept", got)
	}
	if err := rs.Restore([]byte("*nat\n:A - [0:0]\n-A A -j NOWHERE\nCOMMIT\n")); err == nil {
		t.Fatal("restore with a bad jump succeeded")
	}
	if got := rs.Rules("nat", "A"); len(got) != 1 {
		t.Errorf("A = %q after a failed restore, want it unchanged", got)
	}
}

func TestInsertPutsARuleAtItsPosition(t *testing.T) {
	rs, err := iptrace.Parse([]byte(restore("nat", "-A A -j B", "-I A 1 -p tcp -j B", "-I A 3 -p udp -j B", "-I PREROUTING -j A")))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-p tcp -j B", "-j B", "-p udp -j B"}
	if got := rs.Rules("nat", "A"); !slices.Equal(got, want) {
		t.Errorf("A = %q, want %q", got, want)
	}
	if got := rs.Rules("nat", "PREROUTING"); !slices.Equal(got, []string{"-j A"}) {
		t.Errorf("PREROUTING = %q", got)
	}
}
