package ipam

import (
	"encoding/binary"
	"net/netip"
)

// addrRange walks the addresses of an IPv4 prefix as numbers.
type addrRange struct {
	base  uint32
	size  uint64
	first netip.Addr // network address
	last  netip.Addr // broadcast address
}

func newAddrRange(p netip.Prefix) addrRange {
	a := p.Masked().Addr().As4()
	base := binary.BigEndian.Uint32(a[:])
	size := uint64(1) << (32 - p.Bits())
	return addrRange{base: base, size: size, first: toAddr(base), last: toAddr(base + uint32(size-1))}
}

// after returns the address following ip, wrapping from the last to the first.
func (r addrRange) after(ip netip.Addr) netip.Addr {
	a := ip.As4()
	off := uint64(binary.BigEndian.Uint32(a[:]) - r.base)
	return toAddr(r.base + uint32((off+1)%r.size))
}

func toAddr(n uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	return netip.AddrFrom4(b)
}
