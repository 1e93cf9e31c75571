package linkfault

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

var testTarget = Target{HostNetns: "lab-node-1", HostLink: "eth0", FabricNetns: "lab-fabric", FabricLink: "node-1"}

func TestDownPullsTheFabricEndAndHealRaisesBoth(t *testing.T) {
	nl := newFakeNetlink()
	in := Injector{Netlink: nl, IPTables: &fakeIPTables{}}
	ctx := context.Background()
	if _, err := in.Apply(ctx, testTarget, Fault{Kind: Down}); err != nil {
		t.Fatal(err)
	}
	if up, ok := nl.up["lab-fabric/node-1"]; !ok || up {
		t.Errorf("fabric end up=%v after down", up)
	}
	if _, touched := nl.up["lab-node-1/eth0"]; touched {
		t.Error("down touched the host's end: the host should see carrier loss, not an admin down")
	}
	if err := in.Heal(ctx, testTarget, Down); err != nil {
		t.Fatal(err)
	}
	if !nl.up["lab-fabric/node-1"] || !nl.up["lab-node-1/eth0"] {
		t.Errorf("after heal: %v, want both ends up", nl.up)
	}
}

func TestDelayWithoutNetemAsksForADelayer(t *testing.T) {
	nl, ipt := newFakeNetlink(), &fakeIPTables{}
	in := Injector{Netlink: nl, IPTables: ipt}
	a, err := in.Apply(context.Background(), testTarget, Fault{Kind: Delay, Delay: 100 * time.Millisecond, Jitter: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	want := DelayerConfig{Queue: DefaultQueue, Delay: 100 * time.Millisecond, Jitter: 10 * time.Millisecond}
	if a.Via != "nfqueue" || a.Delayer == nil || *a.Delayer != want {
		t.Fatalf("Apply = %+v, want nfqueue and delayer %+v", a, want)
	}
	if len(nl.root) != 0 {
		t.Errorf("qdiscs left after the netem attempt: %v", nl.root)
	}
	if len(ipt.restored) != 1 || !strings.Contains(ipt.restored[0], "lab-node-1:") ||
		!strings.Contains(ipt.restored[0], "-A KINNS-LINKFAULT-DELAY-OUT -j NFQUEUE --queue-num 2711 --queue-bypass") {
		t.Errorf("restored %q, want the queue rules in the host's namespace", ipt.restored)
	}
}

func TestDelayWithNetemNeedsNoDelayer(t *testing.T) {
	nl := newFakeNetlink()
	nl.netem = true
	in := Injector{Netlink: nl, IPTables: &fakeIPTables{}}
	a, err := in.Apply(context.Background(), testTarget, Fault{Kind: Delay, Delay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if a.Via != "netem" || a.Delayer != nil {
		t.Errorf("Apply = %+v, want netem and no delayer", a)
	}
	for _, k := range []string{"lab-node-1/eth0", "lab-fabric/node-1"} {
		if q := nl.root[k]; q.Kind != "netem" || q.Delay.Latency != 50*time.Millisecond {
			t.Errorf("%s root = %+v, want netem 50ms", k, q)
		}
	}
	if err := in.Heal(context.Background(), testTarget, Delay); err != nil || len(nl.root) != 0 {
		t.Errorf("heal: %v, roots left %v", err, nl.root)
	}
}

func TestRateOnBothEndsOrNeither(t *testing.T) {
	nl := newFakeNetlink()
	nl.fail["lab-fabric/node-1"] = errors.New("boom")
	in := Injector{Netlink: nl, IPTables: &fakeIPTables{}}
	if _, err := in.Apply(context.Background(), testTarget, Fault{Kind: Rate, Rate: 1e6}); err == nil {
		t.Fatal("Apply succeeded though the fabric end failed")
	}
	if len(nl.root) != 0 {
		t.Errorf("the host end kept %v after the fabric end failed", nl.root)
	}
}

func TestRateLeavesSomeoneElsesQdisc(t *testing.T) {
	nl := newFakeNetlink()
	foreign := Qdisc{Kind: "htb", Handle: 0x10000}
	nl.root["lab-node-1/eth0"] = foreign
	in := Injector{Netlink: nl, IPTables: &fakeIPTables{}}
	_, err := in.Apply(context.Background(), testTarget, Fault{Kind: Rate, Rate: 1e6})
	if !errors.Is(err, ErrBusy) {
		t.Errorf("Apply over a foreign qdisc = %v, want ErrBusy", err)
	}
	if err := in.Heal(context.Background(), testTarget, Rate); err != nil {
		t.Fatal(err)
	}
	if nl.root["lab-node-1/eth0"] != foreign {
		t.Errorf("heal removed a qdisc that was not ours: %v", nl.root)
	}
}

func TestRateThenNetemDelayConflict(t *testing.T) {
	nl := newFakeNetlink()
	nl.netem = true
	in := Injector{Netlink: nl, IPTables: &fakeIPTables{}, Delay: DelayNetem}
	ctx := context.Background()
	if _, err := in.Apply(ctx, testTarget, Fault{Kind: Rate, Rate: 1e6}); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Apply(ctx, testTarget, Fault{Kind: Delay, Delay: time.Millisecond}); !errors.Is(err, ErrBusy) {
		t.Errorf("netem over our tbf = %v, want ErrBusy", err)
	}
	if _, err := in.Apply(ctx, testTarget, Fault{Kind: Rate, Rate: 2e6}); err != nil {
		t.Errorf("a new rate over ours: %v", err)
	}
}

func TestHealOfNothingIsSuccess(t *testing.T) {
	ipt := &fakeIPTables{}
	in := Injector{Netlink: newFakeNetlink(), IPTables: ipt}
	if err := in.HealAll(context.Background(), testTarget); err != nil {
		t.Fatal(err)
	}
	if len(ipt.restored) != 0 {
		t.Errorf("healing nothing restored %q", ipt.restored)
	}
}

func TestApplyRefusesAnInvalidFault(t *testing.T) {
	in := Injector{Netlink: newFakeNetlink(), IPTables: &fakeIPTables{}}
	if _, err := in.Apply(context.Background(), testTarget, Fault{Kind: Loss, Loss: 130}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Apply(loss 130) = %v, want ErrInvalid", err)
	}
}
