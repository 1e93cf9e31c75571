package cloud

import (
	"errors"
	"net/netip"
	"testing"
)

var ip = netip.MustParseAddr

func TestPoolGivesLowestFreeAndKeepsEachKeysAddress(t *testing.T) {
	p, err := NewPool("10.89.0.200-10.89.0.202")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.Allocate("default/a", netip.Addr{})
	b, _ := p.Allocate("default/b", netip.Addr{})
	again, _ := p.Allocate("default/a", ip("10.89.0.202"))
	if a != ip("10.89.0.200") || b != ip("10.89.0.201") || again != a {
		t.Fatalf("a=%s b=%s a again=%s", a, b, again)
	}
	if got, _ := p.Release("default/a"); got != a {
		t.Fatalf("released %s, want %s", got, a)
	}
	c, _ := p.Allocate("default/c", netip.Addr{})
	if c != a {
		t.Fatalf("c=%s, want the freed %s", c, a)
	}
}

func TestPoolHonoursAFreePreferredAddressOnly(t *testing.T) {
	p, _ := NewPool("10.89.0.200-10.89.0.203")
	if a, _ := p.Allocate("ns/x", ip("10.89.0.203")); a != ip("10.89.0.203") {
		t.Errorf("x got %s, want its status address", a)
	}
	if a, _ := p.Allocate("ns/y", ip("10.89.0.203")); a != ip("10.89.0.200") {
		t.Errorf("y got %s: another key's address must not be given twice", a)
	}
	if a, _ := p.Allocate("ns/z", ip("192.0.2.1")); a != ip("10.89.0.201") {
		t.Errorf("z got %s: an address outside the pool is not honoured", a)
	}
}

func TestPoolExhausted(t *testing.T) {
	p, _ := NewPool("10.89.0.250")
	if _, err := p.Allocate("ns/a", netip.Addr{}); err != nil {
		t.Fatal(err)
	}
	_, err := p.Allocate("ns/b", netip.Addr{})
	if !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("err = %v, want ErrPoolExhausted", err)
	}
	if want := "address pool exhausted: all 1 addresses of 10.89.0.250-10.89.0.250 are in use"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	p.Release("ns/a")
	if a, err := p.Allocate("ns/b", netip.Addr{}); err != nil || a != ip("10.89.0.250") {
		t.Errorf("after a release: %s, %v", a, err)
	}
}

func TestPoolSeedTakesStatusAddressesOnce(t *testing.T) {
	p, _ := NewPool("10.89.0.200-10.89.0.250")
	if !p.Seed("ns/a", ip("10.89.0.207")) {
		t.Fatal("seed a")
	}
	if p.Seed("ns/b", ip("10.89.0.207")) {
		t.Error("b seeded with a's address")
	}
	if p.Seed("ns/c", ip("10.96.0.1")) {
		t.Error("c seeded with an address outside the pool")
	}
	if a, _ := p.Allocate("ns/a", netip.Addr{}); a != ip("10.89.0.207") {
		t.Errorf("a got %s after its seed", a)
	}
}

func TestPoolRejectsBadRanges(t *testing.T) {
	for _, r := range []string{"", "10.89.0.250-10.89.0.200", "x-y", "::1-::2"} {
		if _, err := NewPool(r); err == nil {
			t.Errorf("NewPool(%q) accepted", r)
		}
	}
	if p, err := NewPool("10.89.0.200-10.89.1.9"); err != nil || p.Size() != 66 {
		t.Errorf("size across a /24 boundary: %v, %v", p, err)
	}
}
