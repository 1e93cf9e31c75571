package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/kinns/kinns/proxy/internal/iptrace"
)

// fakeIPTables keeps the rules in the tracer's model, which refuses what
// the kernel would refuse, and counts restores.
type fakeIPTables struct {
	mu       sync.Mutex
	rs       *iptrace.Ruleset
	restores int
	fail     error // the next restore fails with it
}

func newFakeIPTables() *fakeIPTables { return &fakeIPTables{rs: iptrace.New()} }

func (f *fakeIPTables) Save(_ context.Context, table string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "*%s\n", table)
	for _, c := range f.rs.Chains(table) {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c)
	}
	for _, c := range f.rs.Chains(table) {
		for _, r := range f.rs.Rules(table, c) {
			fmt.Fprintf(&b, "-A %s %s\n", c, r)
		}
	}
	b.WriteString("COMMIT\n")
	return []byte(b.String()), nil
}

func (f *fakeIPTables) Restore(_ context.Context, text []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail; err != nil {
		f.fail = nil
		return err
	}
	f.restores++
	return f.rs.Restore(text)
}

func (f *fakeIPTables) trace(h iptrace.Hook, p iptrace.Packet) (iptrace.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rs.Trace(h, p)
}

func (f *fakeIPTables) rules(table, chain string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rs.Rules(table, chain)
}

func (f *fakeIPTables) restoreCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.restores
}

// fakeConntrack records what it was asked to clear.
type fakeConntrack struct {
	mu      sync.Mutex
	cleared []string
	// services is what the last sync asked to clear un-DNATed attempts to.
	services []netip.AddrPort
}

func (c *fakeConntrack) ClearEndpoint(ep netip.AddrPort) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cleared = append(c.cleared, "endpoint "+ep.String())
	return nil
}

func (c *fakeConntrack) ClearUnansweredTCP(gone, services []netip.AddrPort) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ep := range gone {
		c.cleared = append(c.cleared, "unanswered tcp "+ep.String())
	}
	c.services = services
	return nil
}

func (c *fakeConntrack) ClearService(ip netip.Addr, port int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cleared = append(c.cleared, fmt.Sprintf("service %s:%d", ip, port))
	return nil
}

func (c *fakeConntrack) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.cleared...)
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func key(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}
