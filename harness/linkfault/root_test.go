package linkfault_test

// These tests do the real thing as root, in namespaces of their own: a "host"
// and a "fabric" namespace joined by a veth pair, with 192.0.2.1 and
// 192.0.2.2. Nothing is done in the machine's own namespace.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	vns "github.com/vishvananda/netns"

	"github.com/kinns/kinns/cni/netns"
	"github.com/kinns/kinns/harness/linkfault"
)

const (
	hostAddr   = "192.0.2.1"
	fabricAddr = "192.0.2.2"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes network namespaces")
	}
	for _, bin := range []string{"iptables-save", "iptables-restore"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s", bin)
		}
	}
}

// newLink makes the two namespaces and the veth between them; they go when
// the test ends.
func newLink(t *testing.T) linkfault.Target {
	requireRoot(t)
	name := fmt.Sprintf("kinnsfaulttest-%06x", rand.Uint32()&0xffffff)
	tg := linkfault.Target{HostNetns: name + "-h", HostLink: "eth0", FabricNetns: name + "-f", FabricLink: "port0"}
	for _, ns := range []string{tg.HostNetns, tg.FabricNetns} {
		if err := netns.Create(ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := netns.Delete(ns); err != nil {
				t.Errorf("delete netns %s: %v", ns, err)
			}
		})
	}
	fh := handle(t, tg.FabricNetns)
	hostNS, err := vns.GetFromPath(netns.Path(tg.HostNetns))
	if err != nil {
		t.Fatal(err)
	}
	defer hostNS.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: tg.FabricLink}, PeerName: tg.HostLink, PeerNamespace: netlink.NsFd(int(hostNS))}
	if err := fh.LinkAdd(veth); err != nil {
		t.Fatalf("add veth: %v", err)
	}
	configure(t, tg.FabricNetns, tg.FabricLink, fabricAddr)
	configure(t, tg.HostNetns, tg.HostLink, hostAddr)
	// The kernel turns a link's queue on after it sees carrier (linkwatch, up
	// to a second later); until then packets are dropped.
	waitOperUp(t, tg.FabricNetns, tg.FabricLink)
	waitOperUp(t, tg.HostNetns, tg.HostLink)
	return tg
}

func waitOperUp(t *testing.T, ns, link string) {
	h := handle(t, ns)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		l, err := h.LinkByName(link)
		if err != nil {
			t.Fatal(err)
		}
		if l.Attrs().OperState == netlink.OperUp {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s in %s is %s after 5s", link, ns, l.Attrs().OperState)
		}
	}
}

func handle(t *testing.T, ns string) *netlink.Handle {
	h, err := netns.Handle(netns.Path(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func configure(t *testing.T, ns, link, addr string) {
	h := handle(t, ns)
	for _, name := range []string{"lo", link} {
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if name == link {
			a := netip.MustParsePrefix(addr + "/24")
			ipn := &net.IPNet{IP: a.Addr().AsSlice(), Mask: net.CIDRMask(24, 32)}
			if err := h.AddrAdd(l, &netlink.Addr{IPNet: ipn}); err != nil {
				t.Fatalf("add %s to %s: %v", addr, link, err)
			}
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
}

// in runs fn with a socket-making thread inside the namespace: the sockets
// it opens live there, whichever goroutine uses them later.
func in(t *testing.T, ns string, fn func() error) {
	t.Helper()
	if err := netns.Do(netns.Path(ns), fn); err != nil {
		t.Fatal(err)
	}
}

// udpEcho serves UDP echo on addr:7 inside ns.
func udpEcho(t *testing.T, ns, addr string) {
	var pc net.PacketConn
	in(t, ns, func() (err error) { pc, err = net.ListenPacket("udp4", addr+":7"); return err })
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	})
	t.Cleanup(func() { pc.Close(); wg.Wait() })
}

func dialUDP(t *testing.T, ns, addr string) net.Conn {
	var c net.Conn
	in(t, ns, func() (err error) { c, err = net.Dial("udp4", addr); return err })
	t.Cleanup(func() { c.Close() })
	return c
}

// rtts sends n numbered echo requests one after another; lost ones are left out.
func rtts(c net.Conn, n int) []time.Duration {
	var out []time.Duration
	buf := make([]byte, 64)
	for i := range uint64(n) {
		start := time.Now()
		c.Write(binary.BigEndian.AppendUint64(nil, i))
		c.SetReadDeadline(start.Add(2 * time.Second))
		for {
			m, err := c.Read(buf)
			if err != nil {
				break
			}
			if m == 8 && binary.BigEndian.Uint64(buf) == i {
				out = append(out, time.Since(start))
				break
			}
		}
	}
	return out
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return -1
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func measureRTT(t *testing.T, c net.Conn, n int) time.Duration {
	rs := rtts(c, n)
	if len(rs) < n/2 {
		t.Fatalf("%d of %d echo requests answered", len(rs), n)
	}
	return median(rs)
}

// delivered sends n datagrams from one namespace to the other and returns the
// share that arrived.
func delivered(t *testing.T, from, to, toAddr string, n int) float64 {
	var rx net.PacketConn
	in(t, to, func() (err error) { rx, err = net.ListenPacket("udp4", toAddr+":0"); return err })
	defer rx.Close()
	var tx net.Conn
	err := netns.Do(netns.Path(from), func() (err error) { tx, err = net.Dial("udp4", rx.LocalAddr().String()); return err })
	if err != nil {
		t.Logf("nothing sent: %v", err) // a link that is down has no route
		return 0
	}
	defer tx.Close()
	got := make(chan int)
	go func() {
		count, buf := 0, make([]byte, 64)
		for {
			rx.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			if _, _, err := rx.ReadFrom(buf); err != nil {
				got <- count
				return
			}
			count++
		}
	}()
	for range n {
		tx.Write([]byte("probe"))
		time.Sleep(200 * time.Microsecond) // stay under the socket buffers
	}
	return float64(<-got) / float64(n)
}

// throughput sends TCP from one namespace to the other for about window and
// returns the bits per second the receiver saw.
func throughput(t *testing.T, from, to, toAddr string, window time.Duration) float64 {
	var ln net.Listener
	in(t, to, func() (err error) { ln, err = net.Listen("tcp4", toAddr+":0"); return err })
	defer ln.Close()
	var c net.Conn
	in(t, from, func() (err error) { c, err = net.Dial("tcp4", ln.Addr().String()); return err })
	defer c.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer c.Close() // before wg.Wait: stops the writer
	buf := make([]byte, 64<<10)
	if _, err := io.ReadAtLeast(s, buf, 1); err != nil {
		t.Fatal(err)
	}
	start, total := time.Now(), 0 // counted from the first byte
	for time.Since(start) < window {
		s.SetReadDeadline(start.Add(window))
		m, err := s.Read(buf)
		total += m
		if err != nil {
			break
		}
	}
	return float64(total) * 8 / time.Since(start).Seconds()
}

func apply(t *testing.T, tg linkfault.Target, fault string) linkfault.Applied {
	t.Helper()
	f, err := linkfault.Parse(fault)
	if err != nil {
		t.Fatal(err)
	}
	a, err := linkfault.Apply(context.Background(), tg, f)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func heal(t *testing.T, tg linkfault.Target, k linkfault.Kind) {
	t.Helper()
	if err := linkfault.Heal(context.Background(), tg, k); err != nil {
		t.Fatal(err)
	}
}

func iptablesIn(t *testing.T, ns string, args ...string) string {
	cmd := exec.Command(args[0], args[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := netns.Start(netns.Path(ns), cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %v: %s", args, err, out.String())
	}
	return out.String()
}

func TestRootDownAndUp(t *testing.T) {
	tg := newLink(t)
	if got := delivered(t, tg.FabricNetns, tg.HostNetns, hostAddr, 20); got < 0.99 {
		t.Fatalf("before the fault %.0f%% arrived", got*100)
	}
	apply(t, tg, "down")
	if got := delivered(t, tg.FabricNetns, tg.HostNetns, hostAddr, 20); got != 0 {
		t.Errorf("link down: %.0f%% arrived into the host, want none", got*100)
	}
	if got := delivered(t, tg.HostNetns, tg.FabricNetns, fabricAddr, 20); got != 0 {
		t.Errorf("link down: %.0f%% arrived from the host, want none", got*100)
	}
	h := handle(t, tg.HostNetns)
	if l, _ := h.LinkByName(tg.HostLink); l.Attrs().OperState == netlink.OperUp {
		t.Errorf("the host's end is %s with its peer down, want it to lose carrier", l.Attrs().OperState)
	}
	heal(t, tg, linkfault.Down)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := delivered(t, tg.FabricNetns, tg.HostNetns, hostAddr, 20)
		if got > 0.9 {
			t.Logf("link up again: %.0f%% arrived", got*100)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("link up: %.0f%% arrived", got*100)
		}
	}
}

func TestRootLoss(t *testing.T) {
	tg := newLink(t)
	// Someone else's rule on the same hook: healing must leave it.
	iptablesIn(t, tg.HostNetns, "iptables", "-w", "-t", "mangle", "-A", "PREROUTING", "-i", "eth0", "-j", "MARK", "--set-mark", "7")
	apply(t, tg, "loss 50")
	const n = 400
	in := delivered(t, tg.FabricNetns, tg.HostNetns, hostAddr, n)
	out := delivered(t, tg.HostNetns, tg.FabricNetns, fabricAddr, n)
	t.Logf("loss 50: %.1f%% arrived into the host, %.1f%% out of it", in*100, out*100)
	for dir, got := range map[string]float64{"into the host": in, "out of the host": out} {
		if got < 0.35 || got > 0.65 {
			t.Errorf("loss 50 %s: %.1f%% of %d arrived, want about half", dir, got*100, n)
		}
	}
	apply(t, tg, "loss 100") // replaces, does not add
	if got := delivered(t, tg.FabricNetns, tg.HostNetns, hostAddr, 50); got != 0 {
		t.Errorf("loss 100: %.0f%% arrived", got*100)
	}
	heal(t, tg, linkfault.Loss)
	if got := delivered(t, tg.FabricNetns, tg.HostNetns, hostAddr, n); got < 0.99 {
		t.Errorf("healed: %.1f%% arrived", got*100)
	}
	saved := iptablesIn(t, tg.HostNetns, "iptables-save", "-t", "mangle")
	if strings.Contains(saved, "KINNS") || !strings.Contains(saved, "MARK set 0x7") && !strings.Contains(saved, "--set-xmark 0x7") {
		t.Errorf("after heal the mangle table is:\n%s\nwant the MARK rule and nothing of ours", saved)
	}
	heal(t, tg, linkfault.Loss) // again: nothing to do
}

func TestRootRate(t *testing.T) {
	tg := newLink(t)
	const rate = 8e6
	free := throughput(t, tg.FabricNetns, tg.HostNetns, hostAddr, 300*time.Millisecond)
	apply(t, tg, "rate 8mbit")
	in := throughput(t, tg.FabricNetns, tg.HostNetns, hostAddr, 2*time.Second)
	out := throughput(t, tg.HostNetns, tg.FabricNetns, fabricAddr, 2*time.Second)
	heal(t, tg, linkfault.Rate)
	healed := throughput(t, tg.FabricNetns, tg.HostNetns, hostAddr, 300*time.Millisecond)
	t.Logf("TCP: %.0f Mbit/s free, %.2f in and %.2f out at rate 8mbit, %.0f healed", free/1e6, in/1e6, out/1e6, healed/1e6)
	if free < 10*rate || healed < 10*rate {
		t.Errorf("without the fault only %.0f / %.0f Mbit/s: too slow to tell a limit", free/1e6, healed/1e6)
	}
	for dir, got := range map[string]float64{"into the host": in, "out of the host": out} {
		if got < 0.4*rate || got > 1.3*rate {
			t.Errorf("rate 8mbit %s: %.2f Mbit/s", dir, got/1e6)
		}
	}
	h := handle(t, tg.HostNetns)
	l, _ := h.LinkByName(tg.HostLink)
	qs, _ := h.QdiscList(l)
	for _, q := range qs {
		if q.Type() == "tbf" {
			t.Errorf("tbf left after heal: %v", q)
		}
	}
}

func TestRootDelay(t *testing.T) {
	tg := newLink(t)
	const delay = 100 * time.Millisecond
	udpEcho(t, tg.HostNetns, hostAddr)
	c := dialUDP(t, tg.FabricNetns, hostAddr+":7")
	before := measureRTT(t, c, 10)

	netem := linkfault.Injector{Delay: linkfault.DelayNetem}
	_, err := netem.Apply(context.Background(), tg, linkfault.Fault{Kind: linkfault.Delay, Delay: delay})
	switch {
	case errors.Is(err, linkfault.ErrNotSupported):
		t.Logf("no netem, as expected here: %v", err)
	case err != nil:
		t.Fatalf("netem: %v, want success or ErrNotSupported", err)
	default:
		heal(t, tg, linkfault.Delay)
	}

	a := apply(t, tg, "delay 100 10")
	t.Logf("delay applied via %s", a.Via)
	if a.Delayer != nil {
		// --queue-bypass: with the rules in and no delayer, packets flow.
		if bypass := measureRTT(t, c, 5); bypass > delay/2 {
			t.Errorf("no delayer yet: RTT %v, want packets to bypass the queue", bypass)
		}
		stop := runDelayer(t, tg, *a.Delayer)
		defer stop()
	}
	with := measureRTT(t, c, 15)
	connect := tcpConnectTime(t, tg)
	bulk := throughput(t, tg.FabricNetns, tg.HostNetns, hostAddr, 2*time.Second)
	t.Logf("TCP through the delay: %.0f Mbit/s", bulk/1e6)
	if bulk < 1e6 {
		t.Errorf("TCP through the delay: %.2f Mbit/s, want it to flow", bulk/1e6)
	}
	heal(t, tg, linkfault.Delay)
	after := measureRTT(t, c, 10)
	t.Logf("UDP echo RTT median: %v before, %v with delay 100±10 each way, %v healed; TCP connect %v", before, with, after, connect)
	if with < 2*delay*8/10 || with > 4*delay {
		t.Errorf("RTT with delay %v each way: %v, want about %v", delay, with, 2*delay)
	}
	if connect < 2*delay*8/10 {
		t.Errorf("TCP connect took %v, want about %v", connect, 2*delay)
	}
	if before > delay/2 || after > delay/2 {
		t.Errorf("RTT %v before, %v after the fault, want both under %v", before, after, delay/2)
	}
}

// runDelayer runs the delayer as the harness's process would, inside the
// host's namespace, and returns a func that stops it and checks that it
// unbound its queue.
func runDelayer(t *testing.T, tg linkfault.Target, cfg linkfault.DelayerConfig) func() {
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- netns.Do(netns.Path(tg.HostNetns), func() error {
			return linkfault.RunDelayer(ctx, cfg, func() { close(ready) })
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("delayer: %v", err)
	}
	if !queueBound(t, tg.HostNetns, cfg.Queue) {
		t.Errorf("queue %d not bound while the delayer runs", cfg.Queue)
	}
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("delayer: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the delayer did not stop within 5s of its context's end")
		}
		if queueBound(t, tg.HostNetns, cfg.Queue) {
			t.Errorf("queue %d still bound after the delayer stopped", cfg.Queue)
		}
	}
}

// queueBound reads the namespace's /proc/net/netfilter/nfnetlink_queue.
func queueBound(t *testing.T, ns string, q uint16) bool {
	var text []byte
	in(t, ns, func() (err error) {
		text, err = os.ReadFile("/proc/thread-self/net/netfilter/nfnetlink_queue")
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	})
	for line := range strings.Lines(string(text)) {
		if f := strings.Fields(line); len(f) > 0 && f[0] == fmt.Sprint(q) {
			return true
		}
	}
	return false
}

func tcpConnectTime(t *testing.T, tg linkfault.Target) time.Duration {
	var ln net.Listener
	in(t, tg.HostNetns, func() (err error) { ln, err = net.Listen("tcp4", hostAddr+":0"); return err })
	defer ln.Close()
	var took time.Duration
	in(t, tg.FabricNetns, func() error {
		start := time.Now()
		c, err := net.DialTimeout("tcp4", ln.Addr().String(), 5*time.Second)
		took = time.Since(start)
		if err == nil {
			c.Close()
		}
		return err
	})
	return took
}
