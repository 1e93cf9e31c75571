package nodeipam

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrFull is returned when every block of the cluster range is in use.
var ErrFull = errors.New("no pod CIDR left in the cluster range")

// CIDRSet hands out the fixed-size blocks of a cluster range. It is not safe
// for concurrent use; the Controller guards it.
type CIDRSet struct {
	cluster netip.Prefix
	bits    int
	used    map[netip.Prefix]string // block -> node using it
}

// NewCIDRSet splits cluster (e.g. 10.244.0.0/16) into /bits blocks (e.g. 24).
func NewCIDRSet(cluster netip.Prefix, bits int) (*CIDRSet, error) {
	cluster = cluster.Masked()
	if !cluster.Addr().Is4() || bits < cluster.Bits() || bits > 30 || bits-cluster.Bits() > 16 {
		return nil, fmt.Errorf("split %s into /%d: need IPv4, /%d..30 and at most 65536 blocks", cluster, bits, cluster.Bits())
	}
	return &CIDRSet{cluster: cluster, bits: bits, used: map[netip.Prefix]string{}}, nil
}

func (s *CIDRSet) blocks() int { return 1 << (s.bits - s.cluster.Bits()) }

// block returns the i-th block of the range.
func (s *CIDRSet) block(i int) netip.Prefix {
	a := s.cluster.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(i) << (32 - s.bits)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), s.bits)
}

// Owner is the node using p, or "".
func (s *CIDRSet) Owner(p netip.Prefix) string { return s.used[p.Masked()] }

// Occupy records that node uses p. A p outside the range is ignored (the
// node's business); a p already used by another node is left to its first
// owner and reported as that owner's name.
func (s *CIDRSet) Occupy(p netip.Prefix, node string) (conflict string) {
	p = p.Masked()
	if !s.cluster.Overlaps(p) {
		return ""
	}
	if o, ok := s.used[p]; ok && o != node {
		return o
	}
	s.used[p] = node
	return ""
}

// Release frees p if node holds it.
func (s *CIDRSet) Release(p netip.Prefix, node string) {
	p = p.Masked()
	if s.used[p] == node {
		delete(s.used, p)
	}
}

// Allocate gives node the highest free block. Top-down keeps clear of the
// blocks kinns' kubelets claim for themselves at registration (node-N takes
// 10.244.N.0/24), so a node that registers later never finds its block gone.
func (s *CIDRSet) Allocate(node string) (netip.Prefix, error) {
	for i := s.blocks() - 1; i >= 0; i-- {
		b := s.block(i)
		if _, ok := s.used[b]; !ok {
			s.used[b] = node
			return b, nil
		}
	}
	return netip.Prefix{}, ErrFull
}
