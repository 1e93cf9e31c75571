package cni

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestHostVethNameFitsAndIsStable(t *testing.T) {
	a, b := HostVethName("3f2c-uid-a"), HostVethName("3f2c-uid-b")
	if len(a) > 15 || !strings.HasPrefix(a, "veth") || len(a) != 12 {
		t.Errorf("HostVethName = %q, want veth + 8 hex digits", a)
	}
	if a != HostVethName("3f2c-uid-a") || a == b {
		t.Errorf("names %q %q: want stable per UID and different across UIDs", a, b)
	}
}

func TestNewFillsDefaultsAndRejectsBadConfig(t *testing.T) {
	p, err := New(Config{NodeNetns: "n", PodCIDR: netip.MustParsePrefix("10.244.3.9/24"), StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if p.cfg.Bridge != "cni0" || p.cfg.Gateway.String() != "10.244.3.1" || p.cfg.PodCIDR.String() != "10.244.3.0/24" {
		t.Errorf("defaults: %+v", p.cfg)
	}
	if p.nodePath != "/run/netns/n" {
		t.Errorf("node path %q", p.nodePath)
	}
	cidr := netip.MustParsePrefix("10.244.3.0/24")
	dir := t.TempDir()
	for _, c := range []Config{
		{PodCIDR: cidr, StateDir: dir},
		{NodeNetns: "n", PodCIDR: cidr},
		{NodeNetns: "n", StateDir: dir},
		{NodeNetns: "n", PodCIDR: cidr, StateDir: dir, MTU: 20},
		{NodeNetns: "n", PodCIDR: cidr, StateDir: dir, Bridge: "a-very-long-bridge"},
		{NodeNetns: "n", PodCIDR: cidr, StateDir: dir, Gateway: netip.MustParseAddr("10.9.9.9")},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

func TestAddAndDelRejectBadArguments(t *testing.T) {
	p, err := New(Config{NodeNetns: "n", PodCIDR: netip.MustParsePrefix("10.244.3.0/24"), StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := p.Add(ctx, PodRef{Namespace: "d", Name: "x"}, "ns"); err == nil {
		t.Error("Add without UID accepted")
	}
	for _, bad := range []string{"", "..", "a/b"} {
		if err := p.Del(ctx, PodRef{UID: "u"}, bad); err == nil {
			t.Errorf("Del with netns %q accepted", bad)
		}
	}
}

// fakeSysctl pretends /proc/sys/net/bridge appears once the module is loaded.
type fakeSysctl struct {
	loaded, appears bool
	set             map[string]string
	loads           []string
}

func (f *fakeSysctl) write(path, key, value string) error {
	if !f.loaded || !f.appears {
		return &fs.PathError{Op: "open", Path: "/proc/sys/" + key, Err: fs.ErrNotExist}
	}
	f.set[key] = value
	return nil
}

func newFakePlugin(t *testing.T, f *fakeSysctl, loadErr error) *Plugin {
	t.Helper()
	p, err := New(Config{
		NodeNetns: "lab-node-1", PodCIDR: netip.MustParsePrefix("10.244.1.0/24"), StateDir: t.TempDir(),
		LoadModule: func(_ context.Context, name string) error {
			f.loads = append(f.loads, name)
			if loadErr == nil {
				f.loaded = true
			}
			return loadErr
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p.sysctl = f.write
	return p
}

func TestBridgeNetfilterLoadsTheModuleOnlyWhenMissing(t *testing.T) {
	f := &fakeSysctl{appears: true, set: map[string]string{}}
	p := newFakePlugin(t, f, nil)
	if err := p.ensureBridgeNetfilter(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.loads) != 1 || f.loads[0] != "br_netfilter" {
		t.Errorf("modules loaded: %v, want [br_netfilter]", f.loads)
	}
	if f.set["net/bridge/bridge-nf-call-iptables"] != "1" || f.set["net/bridge/bridge-nf-call-ip6tables"] != "1" {
		t.Errorf("sysctls set: %v", f.set)
	}
	if err := p.ensureBridgeNetfilter(context.Background()); err != nil || len(f.loads) != 1 {
		t.Errorf("second call: err %v, loads %v (the module was there already)", err, f.loads)
	}
}

func TestBridgeNetfilterErrorNamesTheModule(t *testing.T) {
	p := newFakePlugin(t, &fakeSysctl{set: map[string]string{}}, errors.New("modprobe: not found"))
	err := p.ensureBridgeNetfilter(context.Background())
	if !errors.Is(err, ErrBridgeNetfilter) || !strings.Contains(err.Error(), "br_netfilter") || !strings.Contains(err.Error(), "lab-node-1") {
		t.Errorf("got %v, want ErrBridgeNetfilter naming br_netfilter and the node", err)
	}
	p = newFakePlugin(t, &fakeSysctl{appears: false, set: map[string]string{}}, nil)
	if err := p.ensureBridgeNetfilter(context.Background()); !errors.Is(err, ErrBridgeNetfilter) {
		t.Errorf("module loaded but sysctls absent: got %v, want ErrBridgeNetfilter", err)
	}
}

func TestVethOwnershipAndPairing(t *testing.T) {
	pod := PodRef{Namespace: "default", Name: "web", UID: "uid-1"}
	mine := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Index: 7, ParentIndex: 2, Alias: vethAlias(pod)}}
	peer := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Index: 2, ParentIndex: 7}}
	if err := ownedVeth(mine, pod); err != nil {
		t.Error(err)
	}
	if err := ownedVeth(mine, PodRef{UID: "uid-2"}); err == nil {
		t.Error("a veth of another UID counted as owned")
	}
	if err := ownedVeth(&netlink.Bridge{}, pod); err == nil {
		t.Error("a bridge counted as the pod's veth")
	}
	if !paired(mine, peer) || paired(mine, &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Index: 3, ParentIndex: 7}}) {
		t.Error("pairing by link index is wrong")
	}
}

func TestHasDefaultVia(t *testing.T) {
	gw := netip.MustParseAddr("10.244.1.1")
	_, zero, _ := net.ParseCIDR("0.0.0.0/0")
	_, sub, _ := net.ParseCIDR("10.244.1.0/24")
	for _, c := range []struct {
		r    netlink.Route
		want bool
	}{
		{netlink.Route{Gw: net.ParseIP("10.244.1.1")}, true},
		{netlink.Route{Dst: zero, Gw: net.ParseIP("10.244.1.1")}, true},
		{netlink.Route{Dst: zero, Gw: net.ParseIP("10.244.1.9")}, false},
		{netlink.Route{Dst: sub}, false},
	} {
		if got := hasDefaultVia([]netlink.Route{c.r}, gw); got != c.want {
			t.Errorf("hasDefaultVia(%v) = %t, want %t", c.r, got, c.want)
		}
	}
}
