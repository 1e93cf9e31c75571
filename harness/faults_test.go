package harness

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kinns/kinns/harness/state"
)

// Every fault of the table is mended by a row of the same table that takes
// the arguments its heal gives.
func TestEveryFaultHasAMendInTheTable(t *testing.T) {
	args := map[string][]string{"NODE": {"node-1"}, "NAME": {"kubelet/node-1"}, "HOST": {"node-1"}, "N": {"2"}}
	for _, r := range faultTable {
		if r.Help == "" || r.run == nil {
			t.Errorf("%s %s: no help or nothing to run", r.Target, r.Action)
		}
		if r.heal == nil {
			if r.FaultRow.Heal != "" {
				t.Errorf("%s %s says it is mended by %q but has no heal", r.Target, r.Action, r.FaultRow.Heal)
			}
			continue
		}
		a := append(args[strings.Fields(r.Args + " X")[0]], "30", "5")[:r.minArgs]
		heal := r.heal(a)
		if heal.Action != r.FaultRow.Heal {
			t.Errorf("%s %s: heal %s, table says %s", r.Target, r.Action, heal, r.FaultRow.Heal)
		}
		if err := CheckFault(heal); err != nil {
			t.Errorf("%s %s is mended by %s, which the table refuses: %v", r.Target, r.Action, heal, err)
		}
	}
}

func TestMistypedFaultsAreRefusedWithWhatExists(t *testing.T) {
	cases := map[string]struct {
		f    Fault
		want string
	}{
		"target":    {Fault{Target: "bogus"}, `no fault target "bogus"; targets are node, component, partition, link, etcd, quorum, apiserver`},
		"action":    {Fault{Target: "node", Action: "explode", Args: []string{"node-1"}}, `node has no action "explode"; actions are kill, start, freeze, thaw`},
		"no args":   {Fault{Target: "node", Action: "kill"}, "usage: lab fault node kill NODE"},
		"too many":  {Fault{Target: "quorum", Action: "lose", Args: []string{"now"}}, "usage: lab fault quorum lose"},
		"link args": {Fault{Target: "link", Action: "delay", Args: []string{"node-1"}}, "usage: lab fault link delay HOST MS [JITTER_MS]"},
	}
	for name, c := range cases {
		err := CheckFault(c.f)
		if !errors.Is(err, ErrBadFault) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", name, err, c.want)
		}
	}
}

func TestBrokenListFollowsFaultsAndMends(t *testing.T) {
	now := time.Now()
	apply := func(b []state.Broken, f Fault) []state.Broken {
		r, err := findFault(f)
		if err != nil {
			t.Fatal(err)
		}
		return record(b, r, f, now)
	}
	f := func(s string) Fault {
		w := strings.Fields(s)
		return Fault{Target: w[0], Action: w[1], Args: w[2:]}
	}
	var b []state.Broken
	b = apply(b, f("node kill node-3"))
	b = apply(b, f("link loss node-1 30"))
	b = apply(b, f("link delay node-1 100"))
	b = apply(b, f("link down node-1"))
	b = apply(b, f("etcd stop 2"))
	b = apply(b, f("link loss node-1 50")) // replaces the first loss
	if got := brokenNames(b); got != "node kill node-3|link delay node-1 100|link down node-1|etcd stop 2|link loss node-1 50" {
		t.Fatalf("broken: %s", got)
	}
	b = apply(b, f("link heal node-1 loss"))
	b = apply(b, f("quorum restore")) // starts every member: etcd stop 2 is mended
	if got := brokenNames(b); got != "node kill node-3|link delay node-1 100|link down node-1" {
		t.Fatalf("after heal loss and quorum restore: %s", got)
	}
	b = apply(b, f("link heal node-1")) // every link fault, the cable too
	b = apply(b, f("node start node-3"))
	if len(b) != 0 {
		t.Fatalf("after healing everything: %s", brokenNames(b))
	}
}

func brokenNames(b []state.Broken) string {
	var out []string
	for _, x := range b {
		out = append(out, x.Fault.String())
	}
	return strings.Join(out, "|")
}

func TestDefaultActionMayGoUnsaid(t *testing.T) {
	got := normalize(Fault{Target: "partition", Action: "node-2", Args: []string{"--from", "control-plane"}})
	if got.String() != "partition cut node-2 --from control-plane" {
		t.Errorf("normalize = %s", got)
	}
	if got := normalize(Fault{Target: "node", Action: "kill", Args: []string{"node-1"}}); got.String() != "node kill node-1" {
		t.Errorf("normalize changed a fault with its action: %s", got)
	}
}
