package cloud

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/kinns/kinns/controlplane/cloud/config"
)

// ErrPoolExhausted fails an allocation when every address of the pool is
// taken.
var ErrPoolExhausted = errors.New("address pool exhausted")

// Pool hands out the addresses of a range, at most one per key (a
// Service's namespace/name), and keeps each key's address until it is
// released. It is safe for concurrent use; it knows only what it was told,
// so the controller seeds it from the Services' status before it
// allocates anything (see Seed).
type Pool struct {
	first, last netip.Addr

	mu     sync.Mutex
	byKey  map[string]netip.Addr
	byAddr map[netip.Addr]string
}

// NewPool is the pool of the range "FIRST-LAST".
func NewPool(r string) (*Pool, error) {
	first, last, err := config.ParseRange(r)
	if err != nil {
		return nil, err
	}
	return &Pool{first: first, last: last, byKey: map[string]netip.Addr{}, byAddr: map[netip.Addr]string{}}, nil
}

// String is the range, as configured.
func (p *Pool) String() string { return p.first.String() + "-" + p.last.String() }

// Contains says whether a is in the range.
func (p *Pool) Contains(a netip.Addr) bool {
	return a.IsValid() && !a.Less(p.first) && !p.last.Less(a)
}

// Size is the number of addresses in the range.
func (p *Pool) Size() int {
	a, b := p.first.As4(), p.last.As4()
	n := func(x [4]byte) int { return int(x[0])<<24 | int(x[1])<<16 | int(x[2])<<8 | int(x[3]) }
	return n(b) - n(a) + 1
}

// Allocate returns key's address: the one it holds, else prefer if that
// is in the range and free (the address a Service's status already has),
// else the lowest free one. With none free it fails with ErrPoolExhausted.
func (p *Pool) Allocate(key string, prefer netip.Addr) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a, ok := p.byKey[key]; ok {
		return a, nil
	}
	if p.Contains(prefer) {
		if _, taken := p.byAddr[prefer]; !taken {
			p.take(key, prefer)
			return prefer, nil
		}
	}
	for a := p.first; !p.last.Less(a); a = a.Next() {
		if _, taken := p.byAddr[a]; !taken {
			p.take(key, a)
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w: all %d addresses of %s are in use", ErrPoolExhausted, p.Size(), p)
}

// Seed records that key holds a, as a Service's status says, unless a is
// outside the range or another key holds it already; it reports whether
// key holds a now.
func (p *Pool) Seed(key string, a netip.Addr) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if held, ok := p.byKey[key]; ok {
		return held == a
	}
	if _, taken := p.byAddr[a]; taken || !p.Contains(a) {
		return false
	}
	p.take(key, a)
	return true
}

func (p *Pool) take(key string, a netip.Addr) {
	p.byKey[key], p.byAddr[a] = a, key
}

// Release frees key's address, if it holds one, and returns it.
func (p *Pool) Release(key string) (netip.Addr, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.byKey[key]
	if ok {
		delete(p.byKey, key)
		delete(p.byAddr, a)
	}
	return a, ok
}

// Lookup returns key's address, if it holds one.
func (p *Pool) Lookup(key string) (netip.Addr, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.byKey[key]
	return a, ok
}
