package ipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
)

// ErrExhausted means every address of the range is allocated.
var ErrExhausted = errors.New("no free address left")

// ErrRangeMismatch means the state folder belongs to another range.
var ErrRangeMismatch = errors.New("state holds another range")

const (
	stateFile = "ipam.json"
	lockFile  = "ipam.lock"
)

// Config says where the state lives and which range to allocate from.
type Config struct {
	// Dir is the state folder; it is created if missing.
	Dir string
	// Range is the pod range, IPv4, /16 to /30. It is used masked.
	Range netip.Prefix
	// Gateway is never handed out. Zero means the first host address (.1).
	Gateway netip.Addr
}

// Allocation is one address held by one ID.
type Allocation struct {
	ID    string     `json:"id"`
	IP    netip.Addr `json:"ip"`
	Owner string     `json:"owner,omitempty"`
}

// Store allocates addresses. Its methods are safe for concurrent use, also by
// other Stores and other processes on the same Dir.
type Store struct {
	cfg Config
}

// state is the content of ipam.json.
type state struct {
	Range netip.Prefix `json:"range"`
	// Last is the address handed out most recently; the next search starts after it.
	Last        netip.Addr            `json:"last,omitzero"`
	Allocations map[string]Allocation `json:"allocations"`
}

// Open checks cfg and prepares Dir. It does not read the state: every call does.
func Open(cfg Config) (*Store, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create ipam state folder %s: %w", cfg.Dir, err)
	}
	return &Store{cfg: cfg}, nil
}

func (c Config) normalize() (Config, error) {
	if c.Dir == "" {
		return c, errors.New("ipam: no state folder given")
	}
	if !c.Range.IsValid() || !c.Range.Addr().Is4() {
		return c, fmt.Errorf("ipam: range %s is not an IPv4 prefix", c.Range)
	}
	if c.Range.Bits() < 16 || c.Range.Bits() > 30 {
		return c, fmt.Errorf("ipam: range %s must be /16 to /30", c.Range)
	}
	c.Range = c.Range.Masked()
	if !c.Gateway.IsValid() {
		c.Gateway = c.Range.Addr().Next()
	}
	r := newAddrRange(c.Range)
	if !c.Range.Contains(c.Gateway) || c.Gateway == r.first || c.Gateway == r.last {
		return c, fmt.Errorf("ipam: gateway %s is not a host address of %s", c.Gateway, c.Range)
	}
	return c, nil
}

// Range is the masked range the Store allocates from.
func (s *Store) Range() netip.Prefix { return s.cfg.Range }

// Gateway is the address the Store never hands out.
func (s *Store) Gateway() netip.Addr { return s.cfg.Gateway }

// Allocate returns the address held by id, allocating one if id holds none. fresh
// reports whether the address was allocated by this call. owner is free text kept
// for people reading the state file.
func (s *Store) Allocate(ctx context.Context, id, owner string) (ip netip.Addr, fresh bool, err error) {
	if id == "" {
		return netip.Addr{}, false, errors.New("ipam: allocate with an empty id")
	}
	err = s.update(ctx, func(st *state) (bool, error) {
		if a, ok := st.Allocations[id]; ok {
			ip = a.IP
			return false, nil
		}
		next, err := s.next(st)
		if err != nil {
			return false, err
		}
		st.Allocations[id] = Allocation{ID: id, IP: next, Owner: owner}
		st.Last = next
		ip, fresh = next, true
		return true, nil
	})
	if err != nil {
		return netip.Addr{}, false, fmt.Errorf("allocate an address for %q: %w", id, err)
	}
	return ip, fresh, nil
}

// next finds the first free host address after st.Last, wrapping around.
func (s *Store) next(st *state) (netip.Addr, error) {
	used := make(map[netip.Addr]bool, len(st.Allocations))
	for _, a := range st.Allocations {
		used[a.IP] = true
	}
	r := newAddrRange(s.cfg.Range)
	start := st.Last
	if !s.cfg.Range.Contains(start) {
		start = r.first
	}
	for ip, i := r.after(start), uint64(0); i < r.size; ip, i = r.after(ip), i+1 {
		if ip != r.first && ip != r.last && ip != s.cfg.Gateway && !used[ip] {
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w in %s (%d allocated)", ErrExhausted, s.cfg.Range, len(st.Allocations))
}

// Release frees the address held by id. An id holding none is success.
func (s *Store) Release(ctx context.Context, id string) error {
	err := s.update(ctx, func(st *state) (bool, error) {
		if _, ok := st.Allocations[id]; !ok {
			return false, nil
		}
		delete(st.Allocations, id)
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("release the address of %q: %w", id, err)
	}
	return nil
}

// Get returns the address held by id, if any.
func (s *Store) Get(ctx context.Context, id string) (netip.Addr, bool, error) {
	var a Allocation
	var ok bool
	err := s.update(ctx, func(st *state) (bool, error) {
		a, ok = st.Allocations[id]
		return false, nil
	})
	if err != nil {
		return netip.Addr{}, false, fmt.Errorf("look up the address of %q: %w", id, err)
	}
	return a.IP, ok, nil
}

// List returns every allocation, ordered by address.
func (s *Store) List(ctx context.Context) ([]Allocation, error) {
	var out []Allocation
	err := s.update(ctx, func(st *state) (bool, error) {
		for _, a := range st.Allocations {
			out = append(out, a)
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list allocations: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP.Less(out[j].IP) })
	return out, nil
}

// update runs fn on the state under the lock and saves the state if fn says it
// changed it.
func (s *Store) update(ctx context.Context, fn func(*state) (bool, error)) error {
	unlock, err := lock(ctx, filepath.Join(s.cfg.Dir, lockFile))
	if err != nil {
		return err
	}
	defer unlock()
	st, err := s.load()
	if err != nil {
		return err
	}
	changed, err := fn(st)
	if err != nil || !changed {
		return err
	}
	return s.save(st)
}

func (s *Store) load() (*state, error) {
	p := filepath.Join(s.cfg.Dir, stateFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return &state{Range: s.cfg.Range, Allocations: map[string]Allocation{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("parse %s: %w", p, err)
	}
	if st.Range != s.cfg.Range {
		return nil, fmt.Errorf("%w: %s is for %s, not %s", ErrRangeMismatch, p, st.Range, s.cfg.Range)
	}
	if st.Allocations == nil {
		st.Allocations = map[string]Allocation{}
	}
	return &st, nil
}

// save replaces the state file by rename, so a reader never sees half a file and
// a killed process leaves the old or the new state. It does not fsync: network
// namespaces do not survive a host crash either, so neither need their addresses.
func (s *Store) save(st *state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode ipam state: %w", err)
	}
	p := filepath.Join(s.cfg.Dir, stateFile)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replace %s: %w", p, err)
	}
	return nil
}
