package cni

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	vns "github.com/vishvananda/netns"

	"github.com/kinns/kinns/cni/netns"
)

var testCIDR = netip.MustParsePrefix("10.244.7.0/24")

// testNode is a throwaway node namespace with a cni0 bridge, as harness/network
// makes it, and a Plugin for it.
type testNode struct {
	name, path, prefix, stateDir string
	cidr                         netip.Prefix
	plugin                       *Plugin
}

func newTestNode(t testing.TB) *testNode {
	t.Helper()
	return newTestNodeAt(t, randomPrefix(t), "node", testCIDR)
}

func randomPrefix(t testing.TB) string {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
	sfx := make([]byte, 3)
	rand.Read(sfx)
	return "cnitest-" + hex.EncodeToString(sfx)
}

func newTestNodeAt(t testing.TB, prefix, host string, cidr netip.Prefix) *testNode {
	t.Helper()
	n := &testNode{prefix: prefix, stateDir: t.TempDir(), cidr: cidr}
	n.name = prefix + "-" + host
	n.path = netns.Path(n.name)
	if err := netns.Create(n.name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := netns.Delete(n.name); err != nil {
			t.Error(err)
		}
	})
	n.makeBridge(t)
	// As harness/network does for every node: it routes between pods and the fabric.
	must(t, netns.Sysctl(n.path, "net/ipv4/ip_forward", "1"))
	n.plugin = n.newPlugin(t)
	return n
}

func (n *testNode) makeBridge(t testing.TB) {
	h, err := netns.Handle(n.path)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	must(t, err)
	must(t, h.LinkSetUp(lo))
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "cni0"}}
	must(t, h.LinkAdd(br))
	gw := netip.PrefixFrom(n.cidr.Addr().Next(), n.cidr.Bits())
	must(t, h.AddrAdd(br, &netlink.Addr{IPNet: ipNet(gw)}))
	must(t, h.LinkSetUp(br))
}

func (n *testNode) newPlugin(t testing.TB) *Plugin {
	p, err := New(Config{NodeNetns: n.name, PodCIDR: n.cidr, StateDir: n.stateDir, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// pod names a pod and its namespace, and removes both at the end of the test.
func (n *testNode) pod(t testing.TB, name string) (PodRef, string) {
	ref := PodRef{Namespace: "default", Name: name, UID: n.name + "-uid-" + name}
	netnsName := n.name + "-" + name
	t.Cleanup(func() {
		if err := n.plugin.Del(context.Background(), ref, netnsName); err != nil {
			t.Error(err)
		}
		netns.Delete(netnsName)
	})
	return ref, netnsName
}

func (n *testNode) add(t testing.TB, name string) (PodRef, string, Result) {
	t.Helper()
	ref, ns := n.pod(t, name)
	res, err := n.plugin.Add(context.Background(), ref, ns)
	if err != nil {
		t.Fatal(err)
	}
	return ref, ns, res
}

func TestTwoPodsOnOneBridgeTalk(t *testing.T) {
	n := newTestNode(t)
	ctx := context.Background()
	for _, key := range bridgeSysctls { // Add must turn them on
		must(t, netns.Sysctl(n.path, key, "0"))
	}
	refA, nsA, a := n.add(t, "a")
	refB, nsB, b := n.add(t, "b")

	if !testCIDR.Contains(a.IP) || !testCIDR.Contains(b.IP) || a.IP == b.IP {
		t.Fatalf("pod IPs %s and %s: want two addresses of %s", a.IP, b.IP, testCIDR)
	}
	want := Result{IP: a.IP, Prefix: netip.PrefixFrom(a.IP, 24), Gateway: netip.MustParseAddr("10.244.7.1"),
		HostVeth: HostVethName(refA.UID), Interface: "eth0", MAC: a.MAC, NetnsPath: netns.Path(nsA)}
	if fmt.Sprint(a) != fmt.Sprint(want) || len(a.MAC) != 6 {
		t.Errorf("result\n got %+v\nwant %+v", a, want)
	}
	for _, r := range []Result{a, b} {
		assertPodSide(t, r)
		assertHostSide(t, n, r)
	}
	for _, key := range bridgeSysctls {
		if v, err := readSysctl(n.path, key); v != "1" {
			t.Errorf("%s = %q (%v) in the node, want 1", key, v, err)
		}
	}
	ping(t, a, b.IP)
	ping(t, a, a.Gateway)
	ping(t, b, a.IP)
	for ref, ns := range map[PodRef]string{refA: nsA, refB: nsB} {
		if _, err := n.plugin.Check(ctx, ref, ns); err != nil {
			t.Error(err)
		}
	}
	must(t, n.plugin.Status(ctx))

	for ref, ns := range map[PodRef]string{refA: nsA, refB: nsB} {
		must(t, n.plugin.Del(ctx, ref, ns))
		must(t, n.plugin.Del(ctx, ref, ns)) // idempotent
		assertGone(t, n, ref, ns)
	}
}

func assertPodSide(t *testing.T, r Result) {
	t.Helper()
	h, err := netns.Handle(r.NetnsPath)
	must(t, err)
	defer h.Close()
	lo, err := h.LinkByName("lo")
	must(t, err)
	eth, err := h.LinkByName("eth0")
	must(t, err)
	if lo.Attrs().Flags&net.FlagUp == 0 || eth.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("%s: lo or eth0 down", r.NetnsPath)
	}
	addrs, err := h.AddrList(eth, netlink.FAMILY_V4)
	must(t, err)
	if len(addrs) != 1 || prefixOf(addrs[0].IPNet) != r.Prefix {
		t.Errorf("%s eth0 addresses %v, want only %s", r.NetnsPath, addrs, r.Prefix)
	}
	routes, err := h.RouteList(eth, netlink.FAMILY_V4)
	must(t, err)
	if !hasDefaultVia(routes, r.Gateway) {
		t.Errorf("%s: no default route via %s in %v", r.NetnsPath, r.Gateway, routes)
	}
}

func assertHostSide(t *testing.T, n *testNode, r Result) {
	t.Helper()
	h, err := netns.Handle(n.path)
	must(t, err)
	defer h.Close()
	br, err := h.LinkByName("cni0")
	must(t, err)
	v, err := h.LinkByName(r.HostVeth)
	must(t, err)
	if v.Attrs().MasterIndex != br.Attrs().Index || v.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("%s: not an up port of cni0", r.HostVeth)
	}
	pi, err := h.LinkGetProtinfo(v)
	must(t, err)
	if !pi.Hairpin {
		t.Errorf("%s: hairpin off", r.HostVeth)
	}
}

func assertGone(t *testing.T, n *testNode, ref PodRef, ns string) {
	t.Helper()
	h, err := netns.Handle(n.path)
	must(t, err)
	defer h.Close()
	if l, _ := findLink(h, HostVethName(ref.UID)); l != nil {
		t.Errorf("veth %s still in the node", l.Attrs().Name)
	}
	if netns.Exists(ns) {
		t.Errorf("pod namespace %s still there", ns)
	}
	if ip, ok, _ := n.plugin.ipam.Get(context.Background(), ref.UID); ok {
		t.Errorf("%s still holds %s", ref, ip)
	}
}

// ping runs ping inside the pod's namespace.
func ping(t *testing.T, from Result, to netip.Addr) {
	t.Helper()
	if out, err := runIn(from.NetnsPath, "ping", "-c1", "-W2", to.String()); err != nil {
		t.Errorf("ping %s from %s: %v\n%s", to, from.IP, err, out)
	}
}

func runIn(path string, name string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := netns.Start(path, cmd); err != nil {
		return "", err
	}
	err := cmd.Wait()
	return out.String(), err
}

func TestAddIsIdempotentAndRepairs(t *testing.T) {
	n := newTestNode(t)
	ctx := context.Background()
	ref, ns, first := n.add(t, "a")
	again, err := n.plugin.Add(ctx, ref, ns)
	must(t, err)
	if fmt.Sprint(again) != fmt.Sprint(first) {
		t.Errorf("second Add\n got %+v\nwant %+v", again, first)
	}

	breakings := map[string]func(node, pod *netlink.Handle){
		"default route gone": func(_, pod *netlink.Handle) {
			eth, _ := pod.LinkByName("eth0")
			routes, _ := pod.RouteList(eth, netlink.FAMILY_V4)
			for _, r := range routes {
				if r.Gw != nil {
					must(t, pod.RouteDel(&r))
				}
			}
		},
		"host veth down, hairpin off, off the bridge": func(node, _ *netlink.Handle) {
			v, _ := node.LinkByName(first.HostVeth)
			must(t, node.LinkSetHairpin(v, false))
			must(t, node.LinkSetNoMaster(v))
			must(t, node.LinkSetDown(v))
		},
		"veth pair gone": func(node, _ *netlink.Handle) {
			must(t, deleteLink(node, first.HostVeth))
		},
		"pod address gone": func(_, pod *netlink.Handle) {
			eth, _ := pod.LinkByName("eth0")
			must(t, pod.AddrDel(eth, &netlink.Addr{IPNet: ipNet(first.Prefix)}))
		},
	}
	for what, breakIt := range breakings {
		node, err := netns.Handle(n.path)
		must(t, err)
		pod, err := netns.Handle(netns.Path(ns))
		must(t, err)
		breakIt(node, pod)
		node.Close()
		pod.Close()
		if _, err := n.plugin.Check(ctx, ref, ns); !errors.Is(err, ErrNotReady) {
			t.Errorf("%s: Check = %v, want ErrNotReady", what, err)
		}
		res, err := n.plugin.Add(ctx, ref, ns)
		must(t, err)
		if res.IP != first.IP {
			t.Errorf("%s: repaired pod has %s, want %s", what, res.IP, first.IP)
		}
		if _, err := n.plugin.Check(ctx, ref, ns); err != nil {
			t.Errorf("%s: after repair: %v", what, err)
		}
		ping(t, res, res.Gateway)
	}

	must(t, netns.Delete(ns)) // the whole namespace lost
	res, err := n.plugin.Add(ctx, ref, ns)
	must(t, err)
	if res.IP != first.IP {
		t.Errorf("after losing the namespace: %s, want %s", res.IP, first.IP)
	}
	ping(t, res, res.Gateway)
}

func TestRestartedPluginKeepsAddresses(t *testing.T) {
	n := newTestNode(t)
	ctx := context.Background()
	refA, nsA, a := n.add(t, "a")
	n.plugin = n.newPlugin(t) // a kubelet restart: new instance, same state folder
	if res, err := n.plugin.Check(ctx, refA, nsA); err != nil || res.IP != a.IP {
		t.Errorf("Check after restart: %v %v, want %s", res.IP, err, a.IP)
	}
	again, err := n.plugin.Add(ctx, refA, nsA)
	must(t, err)
	if again.IP != a.IP || again.MAC.String() != a.MAC.String() {
		t.Errorf("Add after restart: %s %s, want %s %s untouched", again.IP, again.MAC, a.IP, a.MAC)
	}
	_, _, b := n.add(t, "b")
	if b.IP == a.IP {
		t.Errorf("new pod after restart got %s, held by pod a", b.IP)
	}
	ping(t, b, a.IP)
}

func TestFailedAddLeavesNothing(t *testing.T) {
	n := newTestNode(t)
	ctx := context.Background()
	boom := errors.New("injected failure")
	for _, step := range []string{"netns", "veth", "host", "pod"} {
		ref, ns := n.pod(t, "fail-"+step)
		n.plugin.fault = func(s string) error {
			if s == step {
				return boom
			}
			return nil
		}
		if _, err := n.plugin.Add(ctx, ref, ns); !errors.Is(err, boom) {
			t.Errorf("fail at %s: Add = %v, want the injected failure", step, err)
		}
		assertGone(t, n, ref, ns)
	}

	// A failed repair keeps what the first Add made: Del removes it.
	n.plugin.fault = func(string) error { return nil }
	ref, ns, first := n.add(t, "kept")
	n.plugin.fault = func(s string) error {
		if s == "pod" {
			return boom
		}
		return nil
	}
	if _, err := n.plugin.Add(ctx, ref, ns); !errors.Is(err, boom) {
		t.Fatalf("repair Add = %v, want the injected failure", err)
	}
	if ip, ok, _ := n.plugin.ipam.Get(ctx, ref.UID); !ok || ip != first.IP || !netns.Exists(ns) {
		t.Errorf("a failed repair undid the first Add: ip %s held=%t netns=%t", ip, ok, netns.Exists(ns))
	}
	n.plugin.fault = func(string) error { return nil }

	other, err := New(Config{NodeNetns: n.name, Bridge: "nobr0", PodCIDR: testCIDR, StateDir: t.TempDir()})
	must(t, err)
	ref, ns = n.pod(t, "nobridge")
	if _, err := other.Add(ctx, ref, ns); err == nil || !strings.Contains(err.Error(), "nobr0") {
		t.Errorf("missing bridge: got %v, want an error naming nobr0", err)
	}
	if netns.Exists(ns) {
		t.Error("Add without a bridge left a namespace")
	}
}

// TestPodsOnTwoNodesTalk wires two nodes host-gw style, as the lab's fabric does
// (here with one direct veth): a pod reaches a pod of the other node.
func TestPodsOnTwoNodesTalk(t *testing.T) {
	prefix := randomPrefix(t)
	n1 := newTestNodeAt(t, prefix, "n1", testCIDR)
	n2 := newTestNodeAt(t, prefix, "n2", netip.MustParsePrefix("10.244.8.0/24"))
	linkNodes(t, n1, n2)
	_, _, a := n1.add(t, "a")
	_, _, b := n2.add(t, "b")
	ping(t, a, b.IP)
	ping(t, b, a.IP)
}

// linkNodes joins two nodes with a veth (10.89.0.21 and .22) and routes each
// one's pod range through the other.
func linkNodes(t *testing.T, n1, n2 *testNode) {
	h1, err := netns.Handle(n1.path)
	must(t, err)
	defer h1.Close()
	h2, err := netns.Handle(n2.path)
	must(t, err)
	defer h2.Close()
	ns2, err := vns.GetFromPath(n2.path)
	must(t, err)
	defer ns2.Close()
	must(t, h1.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "fab"}, PeerName: "fab", PeerNamespace: netlink.NsFd(int(ns2))}))
	ends := []struct {
		h        *netlink.Handle
		ip, peer string
		remote   netip.Prefix
	}{{h1, "10.89.0.21/24", "10.89.0.22", n2.cidr}, {h2, "10.89.0.22/24", "10.89.0.21", n1.cidr}}
	for _, e := range ends {
		l, err := e.h.LinkByName("fab")
		must(t, err)
		must(t, e.h.AddrAdd(l, &netlink.Addr{IPNet: ipNet(netip.MustParsePrefix(e.ip))}))
		must(t, e.h.LinkSetUp(l))
		must(t, e.h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: ipNet(e.remote), Gw: net.ParseIP(e.peer)}))
	}
}

// TestConcurrentAddsAndDels is a kubelet starting and stopping many pods at once.
func TestConcurrentAddsAndDels(t *testing.T) {
	n := newTestNode(t)
	ctx := context.Background()
	const pods = 8
	results := make([]Result, pods)
	refs := make([]PodRef, pods)
	nss := make([]string, pods)
	for i := range pods {
		refs[i], nss[i] = n.pod(t, fmt.Sprint("c", i))
	}
	var wg sync.WaitGroup
	for i := range pods {
		wg.Go(func() {
			res, err := n.plugin.Add(ctx, refs[i], nss[i])
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		})
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	for _, r := range results {
		if seen[r.IP] {
			t.Errorf("%s handed out twice", r.IP)
		}
		seen[r.IP] = true
		ping(t, r, results[0].IP)
	}
	for i := range pods {
		wg.Go(func() {
			if err := n.plugin.Del(ctx, refs[i], nss[i]); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range pods {
		assertGone(t, n, refs[i], nss[i])
	}
}

// TestGatewayMACOutlivesPods: other pods cache the gateway's MAC, so the bridge
// must keep it when the pod whose veth had the lowest MAC goes away.
func TestGatewayMACOutlivesPods(t *testing.T) {
	n := newTestNode(t)
	ctx := context.Background()
	mac := func() string {
		h, err := netns.Handle(n.path)
		must(t, err)
		defer h.Close()
		br, err := h.LinkByName("cni0")
		must(t, err)
		return br.Attrs().HardwareAddr.String()
	}
	before := mac()
	type pod struct {
		ref PodRef
		ns  string
		res Result
	}
	var pods []pod
	for _, name := range []string{"a", "b", "c", "d"} {
		ref, ns, res := n.add(t, name)
		ping(t, res, res.Gateway) // caches the gateway's MAC
		pods = append(pods, pod{ref, ns, res})
	}
	for i, p := range pods[:3] {
		must(t, n.plugin.Del(ctx, p.ref, p.ns))
		if got := mac(); got != before {
			t.Fatalf("bridge MAC went from %s to %s", before, got)
		}
		for _, other := range pods[i+1:] {
			if out, err := runIn(other.res.NetnsPath, "ping", "-c1", "-W1", other.res.Gateway.String()); err != nil {
				t.Errorf("pod %s lost its gateway when %s went: %v\n%s", other.ref.Name, p.ref.Name, err, out)
			}
		}
	}
}

// TestFirstPacketAfterAddArrives: when Add returns, both veth ends pass
// traffic. A veth end that went up before its peer only gets its queue when the
// kernel's link watcher runs; a pod talking before that loses its first ARP and
// waits a whole second for the retry (an RTT near 1000 ms).
func TestFirstPacketAfterAddArrives(t *testing.T) {
	n := newTestNode(t)
	for i := range 10 {
		_, _, res := n.add(t, fmt.Sprint("p", i))
		out, err := runIn(res.NetnsPath, "ping", "-c1", "-W3", res.Gateway.String())
		if err != nil {
			t.Fatalf("ping from new pod %s: %v\n%s", res.IP, err, out)
		}
		if rtt := pingRTT(t, out); rtt > 500*time.Millisecond {
			t.Errorf("first ping from new pod %s took %v: its first packet was dropped", res.IP, rtt)
		}
	}
}

var rttRE = regexp.MustCompile(`time=([0-9.]+) ms`)

func pingRTT(t *testing.T, out string) time.Duration {
	m := rttRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no RTT in ping output:\n%s", out)
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	must(t, err)
	return time.Duration(ms * float64(time.Millisecond))
}

// TestServiceDNATBetweenPodsOfOneBridge shows why Add turns on
// bridge-nf-call-iptables: pod a calls a Service address DNATed to pod b on the
// same bridge; b's answer is bridged straight to a and must still be un-DNATed.
func TestServiceDNATBetweenPodsOfOneBridge(t *testing.T) {
	n := newTestNode(t)
	_, _, a := n.add(t, "a")
	_, _, b := n.add(t, "b")
	backend := netip.AddrPortFrom(b.IP, 8080)
	if out, err := runIn(n.path, "iptables", "-t", "nat", "-A", "PREROUTING", "-d", "10.96.0.50/32", "-p", "tcp",
		"--dport", "80", "-j", "DNAT", "--to-destination", backend.String()); err != nil {
		t.Fatalf("iptables in the node: %v\n%s", err, out)
	}
	ln := listenIn(t, b.NetnsPath, backend)
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello from %s to %s", c.LocalAddr(), c.RemoteAddr())
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-served })

	got, err := dialIn(a.NetnsPath, "10.96.0.50:80", 3*time.Second)
	if err != nil {
		t.Fatalf("pod a -> Service -> pod b: %v", err)
	}
	if want := fmt.Sprintf("hello from %s to %s:", backend, a.IP); !strings.HasPrefix(got, want) {
		t.Errorf("got %q, want %q…", got, want)
	}

	for _, key := range bridgeSysctls {
		must(t, netns.Sysctl(n.path, key, "0"))
	}
	if got, err := dialIn(a.NetnsPath, "10.96.0.50:80", time.Second); err == nil {
		t.Errorf("without bridge-nf-call-iptables the call worked (%q): the test proves nothing", got)
	}
}

// listenIn opens a TCP listener inside the namespace at path; the socket stays
// there whichever thread serves it.
func listenIn(t *testing.T, path string, at netip.AddrPort) net.Listener {
	var ln net.Listener
	must(t, netns.Do(path, func() (err error) {
		ln, err = net.Listen("tcp4", at.String())
		return err
	}))
	return ln
}

func dialIn(path, addr string, timeout time.Duration) (string, error) {
	var got []byte
	err := netns.Do(path, func() error {
		c, err := net.DialTimeout("tcp4", addr, timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(timeout))
		got, err = io.ReadAll(c)
		return err
	})
	return string(got), err
}

// BenchmarkAddDel measures one pod's Add and Del on a node (run with
// -benchtime=20x); add-ms and del-ms are the averages.
func BenchmarkAddDel(b *testing.B) {
	n := newTestNode(b)
	ctx := context.Background()
	var add, del time.Duration
	i := 0
	for b.Loop() {
		ref, ns := n.pod(b, fmt.Sprint("bench", i))
		i++
		t0 := time.Now()
		if _, err := n.plugin.Add(ctx, ref, ns); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := n.plugin.Del(ctx, ref, ns); err != nil {
			b.Fatal(err)
		}
		add, del = add+t1.Sub(t0), del+time.Since(t1)
	}
	b.ReportMetric(float64(add.Microseconds())/1000/float64(i), "add-ms")
	b.ReportMetric(float64(del.Microseconds())/1000/float64(i), "del-ms")
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}
