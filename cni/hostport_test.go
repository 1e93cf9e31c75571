package cni

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

var (
	podA = PodRef{Namespace: "default", Name: "a", UID: "uid-a"}
	podB = PodRef{Namespace: "default", Name: "b", UID: "uid-b"}
)

func TestRenderHostPortsOnAnEmptyTable(t *testing.T) {
	got := string(renderHostPorts(emptyNAT, hostPortChange{
		pod: podA, podIP: netip.MustParseAddr("10.244.1.5"),
		ports: []PortMapping{
			{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 54323, ContainerPort: 8080},
			{HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: 53, ContainerPort: 5353, Protocol: "UDP"},
		},
	}))
	ch := hostPortChain("uid-a")
	want := `*nat
:KINNSHP-DNAT - [0:0]
:KINNSHP-MASQ - [0:0]
:` + ch + ` - [0:0]
-I PREROUTING 1 -m addrtype --dst-type LOCAL -j KINNSHP-DNAT
-I OUTPUT 1 -m addrtype --dst-type LOCAL -j KINNSHP-DNAT
-I POSTROUTING 1 -j KINNSHP-MASQ
-A KINNSHP-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE
-A KINNSHP-DNAT -m comment --comment "default/a uid-a" -j ` + ch + `
-A ` + ch + ` -p tcp -d 127.0.0.1/32 -m tcp --dport 54323 -s 10.244.1.5/32 -j MARK --set-xmark 0x2000/0x2000
-A ` + ch + ` -p tcp -d 127.0.0.1/32 -m tcp --dport 54323 -s 127.0.0.1/32 -j MARK --set-xmark 0x2000/0x2000
-A ` + ch + ` -p tcp -d 127.0.0.1/32 -m tcp --dport 54323 -j DNAT --to-destination 10.244.1.5:8080
-A ` + ch + ` -p udp -m udp --dport 53 -s 10.244.1.5/32 -j MARK --set-xmark 0x2000/0x2000
-A ` + ch + ` -p udp -m udp --dport 53 -s 127.0.0.1/32 -j MARK --set-xmark 0x2000/0x2000
-A ` + ch + ` -p udp -m udp --dport 53 -j DNAT --to-destination 10.244.1.5:5353
COMMIT
`
	if got != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", got, want)
	}
}

func TestRenderHostPortsKeepsOtherPodsAndReplacesItsOwn(t *testing.T) {
	chA, chB := hostPortChain("uid-a"), hostPortChain("uid-b")
	saved := withHostPorts(chA, chB)
	got := string(renderHostPorts(saved, hostPortChange{
		pod: podB, podIP: netip.MustParseAddr("10.244.1.6"),
		ports: []PortMapping{{HostPort: 80, ContainerPort: 8080}},
	}))
	for _, want := range []string{
		"-A KINNSHP-DNAT -m comment --comment \"default/a uid-a\" -j " + chA + "\n",
		"-A KINNSHP-DNAT -m comment --comment \"default/b uid-b\" -j " + chB + "\n",
		":" + chB + " - [0:0]\n",
		"-A " + chB + " -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.244.1.6:8080\n",
	} {
		if strings.Count(got, want) != 1 {
			t.Errorf("want once %q in:\n%s", want, got)
		}
	}
	if strings.Index(got, "-j "+chB) > strings.Index(got, "-j "+chA) {
		t.Errorf("the newest pod's jump is not first:\n%s", got)
	}
	if strings.Contains(got, ":"+chA) || strings.Contains(got, "-I ") {
		t.Errorf("touched pod a's chain or re-added the jumps:\n%s", got)
	}
}

func TestRenderHostPortsDeletesThePodsRules(t *testing.T) {
	chA, chB := hostPortChain("uid-a"), hostPortChain("uid-b")
	got := string(renderHostPorts(withHostPorts(chA, chB), hostPortChange{pod: podB}))
	if !strings.Contains(got, ":"+chB+" - [0:0]\n") || !strings.Contains(got, "-X "+chB+"\n") {
		t.Errorf("pod b's chain not flushed and deleted:\n%s", got)
	}
	if strings.Contains(got, "-j "+chB) || !strings.Contains(got, "-j "+chA) {
		t.Errorf("jumps: want a's only:\n%s", got)
	}
}

func TestRenderHostPortsWithNothingToDo(t *testing.T) {
	chA := hostPortChain("uid-a")
	if got := renderHostPorts(withHostPorts(chA), hostPortChange{pod: podB}); got != nil {
		t.Errorf("del of a pod without host ports rendered:\n%s", got)
	}
	if got := renderHostPorts(emptyNAT, hostPortChange{pod: podB}); got != nil {
		t.Errorf("del on an empty table rendered:\n%s", got)
	}
}

func TestHostPortChainFitsAndIsStable(t *testing.T) {
	a := hostPortChain("uid-a")
	if len(a) > 28 || !strings.HasPrefix(a, "KINNSHP-") || a != hostPortChain("uid-a") || a == hostPortChain("uid-b") {
		t.Errorf("chain %q: want KINNSHP-, <= 28 characters, stable, per UID", a)
	}
	if strings.HasPrefix(a, "KINNS-") {
		t.Errorf("chain %q would be collected by the proxy", a)
	}
}

func TestAddRejectsBadPortMappings(t *testing.T) {
	p, err := New(Config{NodeNetns: "n", PodCIDR: netip.MustParsePrefix("10.244.3.0/24"), StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []PortMapping{
		{HostPort: 0, ContainerPort: 80},
		{HostPort: 80, ContainerPort: 70000},
		{HostPort: 80, ContainerPort: 80, Protocol: "icmp"},
		{HostPort: 80, ContainerPort: 80, HostIP: netip.MustParseAddr("::1")},
	} {
		if _, err := p.Add(context.Background(), podA, "ns", m); err == nil {
			t.Errorf("Add with %+v accepted", m)
		}
	}
}

// fakeNAT is a nat table that records restores and answers Save with text.
type fakeNAT struct {
	text     string
	restores []string
}

func (f *fakeNAT) Save(context.Context) (string, error) { return f.text, nil }
func (f *fakeNAT) Restore(_ context.Context, b []byte) error {
	f.restores = append(f.restores, string(b))
	return nil
}

func TestSetHostPortsTurnsRouteLocalnetOnAndClearsUDPFlows(t *testing.T) {
	p, err := New(Config{NodeNetns: "n", PodCIDR: netip.MustParsePrefix("10.244.3.0/24"), StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	nat, set := &fakeNAT{text: emptyNAT}, map[string]string{}
	var cleared []uint16
	p.nat = nat
	p.sysctl = func(path, key, value string) error { set[path+" "+key] = value; return nil }
	p.clearUDP = func(_ string, port uint16) error { cleared = append(cleared, port); return nil }
	err = p.setHostPorts(context.Background(), hostPortChange{pod: podA, podIP: netip.MustParseAddr("10.244.3.2"),
		ports: []PortMapping{{HostPort: 80, ContainerPort: 80}, {HostPort: 53, ContainerPort: 53, Protocol: "UDP"}}})
	if err != nil {
		t.Fatal(err)
	}
	if set["/run/netns/n net/ipv4/conf/cni0/route_localnet"] != "1" || len(nat.restores) != 1 {
		t.Errorf("sysctls %v, restores %d", set, len(nat.restores))
	}
	if !slices.Equal(cleared, []uint16{53}) {
		t.Errorf("conntrack cleared for ports %v, want the UDP one, 53", cleared)
	}
}

const emptyNAT = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
COMMIT
`

// withHostPorts is a saved nat table with the jumps and a chain per pod.
func withHostPorts(chains ...string) string {
	var b strings.Builder
	b.WriteString("*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KINNSHP-DNAT - [0:0]\n:KINNSHP-MASQ - [0:0]\n")
	for _, c := range chains {
		b.WriteString(":" + c + " - [0:0]\n")
	}
	b.WriteString("-A PREROUTING -m addrtype --dst-type LOCAL -j KINNSHP-DNAT\n-A OUTPUT -m addrtype --dst-type LOCAL -j KINNSHP-DNAT\n-A POSTROUTING -j KINNSHP-MASQ\n")
	b.WriteString("-A KINNSHP-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE\n")
	for i, c := range chains {
		pod := []PodRef{podA, podB}[i]
		b.WriteString("-A KINNSHP-DNAT -m comment --comment \"" + pod.String() + " " + pod.UID + "\" -j " + c + "\n")
		b.WriteString("-A " + c + " -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.244.1.9:80\n")
	}
	b.WriteString("COMMIT\n")
	return b.String()
}
