package netguard

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"
)

// Set is an immutable set of address ranges. Contains takes O(log n) time in the number of
// disjoint ranges whatever the mix of prefix lengths, without locks or allocation, so one Set
// may be shared by any number of goroutines. A nil or empty Set contains nothing.
//
// IPv4 and IPv6 are kept apart: an IPv4 address is matched only by IPv4 ranges, and ::/0 does
// not contain 10.0.0.1. IPv4-mapped IPv6 addresses and ranges count as the IPv4 ones they map.
type Set struct {
	v4 []range4 // sorted, disjoint and not adjacent
	v6 []range6 // likewise
	n  int      // distinct prefixes the Set was built from
}

// range4 and range6 are inclusive address ranges, as integers.
type range4 struct{ lo, hi uint32 }
type range6 struct{ lo, hi u128 }

// u128 is an IPv6 address as a 128-bit big-endian integer.
type u128 struct{ hi, lo uint64 }

func (a u128) cmp(b u128) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

// next returns a+1; it wraps to 0 after the largest address.
func (a u128) next() u128 {
	if a.lo == ^uint64(0) {
		return u128{a.hi + 1, 0}
	}
	return u128{a.hi, a.lo + 1}
}

func u128Of(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// NewSet returns the Set of the given prefixes, normalised as ParsePrefix does (host bits
// cleared, IPv4-mapped ranges unmapped). Invalid prefixes and those with a zone are ignored.
// The slice is not kept.
func NewSet(prefixes []netip.Prefix) *Set {
	seen := make(map[netip.Prefix]struct{}, len(prefixes))
	var v4 []range4
	var v6 []range6
	for _, p := range prefixes {
		p, ok := normalize(p)
		if !ok {
			continue
		}
		if _, dup := seen[p]; dup {
			continue
		}
		seen[p] = struct{}{}
		if p.Addr().Is4() {
			b := p.Addr().As4()
			lo := binary.BigEndian.Uint32(b[:])
			host := ^uint32(0) >> p.Bits() // a shift by 32 gives 0
			v4 = append(v4, range4{lo, lo | host})
			continue
		}
		lo := u128Of(p.Addr())
		hiHost, loHost := ^uint64(0), ^uint64(0)
		if b := p.Bits(); b < 64 {
			hiHost >>= b
		} else {
			hiHost, loHost = 0, loHost>>(b-64)
		}
		v6 = append(v6, range6{lo, u128{lo.hi | hiHost, lo.lo | loHost}})
	}
	return &Set{v4: merge4(v4), v6: merge6(v6), n: len(seen)}
}

// merge4 sorts r and joins overlapping or adjacent ranges, in place.
func merge4(r []range4) []range4 {
	if len(r) == 0 {
		return nil
	}
	slices.SortFunc(r, func(a, b range4) int { return cmp.Compare(a.lo, b.lo) })
	out := r[:1]
	for _, c := range r[1:] {
		last := &out[len(out)-1]
		// c.lo > last.hi here implies c.lo >= 1, so c.lo-1 does not wrap.
		if c.lo <= last.hi || c.lo-1 == last.hi {
			last.hi = max(last.hi, c.hi)
			continue
		}
		out = append(out, c)
	}
	return slices.Clip(out)
}

// merge6 is merge4 for IPv6.
func merge6(r []range6) []range6 {
	if len(r) == 0 {
		return nil
	}
	slices.SortFunc(r, func(a, b range6) int { return a.lo.cmp(b.lo) })
	out := r[:1]
	for _, c := range r[1:] {
		last := &out[len(out)-1]
		// last.hi.next() wraps only when last.hi is the largest address; then c.lo <= last.hi.
		if c.lo.cmp(last.hi) <= 0 || c.lo == last.hi.next() {
			if c.hi.cmp(last.hi) > 0 {
				last.hi = c.hi
			}
			continue
		}
		out = append(out, c)
	}
	return slices.Clip(out)
}

// Len returns the number of distinct valid prefixes s was built from; 0 for a nil Set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// Contains reports whether addr lies in one of the set's ranges. An IPv4-mapped IPv6 address
// is looked up as IPv4, and a zone is ignored. The zero Addr is in no Set.
func (s *Set) Contains(addr netip.Addr) bool {
	if s == nil {
		return false
	}
	addr = addr.Unmap()
	if addr.Is4() {
		b := addr.As4()
		return contains4(s.v4, binary.BigEndian.Uint32(b[:]))
	}
	if addr.Is6() {
		return contains6(s.v6, u128Of(addr))
	}
	return false
}

// contains4 binary-searches r for the last range starting at or below x.
func contains4(r []range4, x uint32) bool {
	i, j := 0, len(r)
	for i < j {
		m := int(uint(i+j) >> 1)
		if r[m].lo <= x {
			i = m + 1
		} else {
			j = m
		}
	}
	return i > 0 && x <= r[i-1].hi
}

// contains6 is contains4 for IPv6.
func contains6(r []range6, x u128) bool {
	i, j := 0, len(r)
	for i < j {
		m := int(uint(i+j) >> 1)
		if r[m].lo.cmp(x) <= 0 {
			i = m + 1
		} else {
			j = m
		}
	}
	return i > 0 && x.cmp(r[i-1].hi) <= 0
}
