package netguard

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestSetContains(t *testing.T) {
	tests := []struct {
		name     string
		prefixes []string
		in, out  []string // addresses the set must and must not contain
	}{
		{
			name: "empty",
			out:  []string{"0.0.0.0", "10.0.0.1", "::", "2001:db8::1"},
		},
		{
			name:     "v4 /0",
			prefixes: []string{"0.0.0.0/0"},
			in:       []string{"0.0.0.0", "10.0.0.1", "255.255.255.255", "::ffff:10.0.0.1"},
			out:      []string{"::", "::1", "2001:db8::1", "::a00:1"},
		},
		{
			name:     "v6 /0",
			prefixes: []string{"::/0"},
			in:       []string{"::", "::1", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::1%eth0"},
			out:      []string{"0.0.0.0", "10.0.0.1", "::ffff:10.0.0.1"},
		},
		{
			name:     "v4 /32",
			prefixes: []string{"192.0.2.7/32"},
			in:       []string{"192.0.2.7", "::ffff:192.0.2.7"},
			out:      []string{"192.0.2.6", "192.0.2.8", "::c000:207", "::ffff:192.0.2.8"},
		},
		{
			name:     "v6 /128",
			prefixes: []string{"2001:db8::7/128"},
			in:       []string{"2001:db8::7"},
			out:      []string{"2001:db8::6", "2001:db8::8", "2001:db8:0:0:1::7", "0.0.0.7"},
		},
		{
			name:     "edges of the address space",
			prefixes: []string{"0.0.0.0/32", "255.255.255.254/31", "::/128", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"},
			in:       []string{"0.0.0.0", "255.255.255.254", "255.255.255.255", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
			out:      []string{"0.0.0.1", "255.255.255.253", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"},
		},
		{
			name:     "v4-compatible v6 range is not v4",
			prefixes: []string{"::/96"},
			in:       []string{"::a00:1"},
			out:      []string{"10.0.0.1", "::ffff:10.0.0.1"},
		},
		{
			name:     "mapped range is v4",
			prefixes: []string{"::ffff:10.0.0.0/104"},
			in:       []string{"10.0.0.1", "10.255.255.255", "::ffff:10.9.9.9"},
			out:      []string{"11.0.0.0", "::a00:1"},
		},
		{
			name:     "adjacent ranges",
			prefixes: []string{"10.0.0.0/25", "10.0.0.128/25", "2001:db8::/64", "2001:db8:0:1::/64"},
			in:       []string{"10.0.0.0", "10.0.0.127", "10.0.0.128", "10.0.0.255", "2001:db8::ffff", "2001:db8:0:1::1"},
			out:      []string{"9.255.255.255", "10.0.1.0", "2001:db8:0:2::", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"},
		},
		{
			name:     "nested ranges",
			prefixes: []string{"10.1.0.0/16", "10.0.0.0/8", "10.1.2.3/32", "2001:db8:1::/48", "2001:db8::/32"},
			in:       []string{"10.200.0.1", "10.1.2.3", "10.1.2.4", "2001:db8:ffff::1"},
			out:      []string{"11.0.0.0", "2001:db9::"},
		},
		{
			name:     "host bits cleared",
			prefixes: []string{"10.1.2.3/24"},
			in:       []string{"10.1.2.0", "10.1.2.255"},
			out:      []string{"10.1.3.0"},
		},
		{
			name:     "zone ignored",
			prefixes: []string{"fe80::/10"},
			in:       []string{"fe80::1", "fe80::1%eth0"},
			out:      []string{"fec0::1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSet(mustPrefixes(t, tc.prefixes...))
			for _, a := range tc.in {
				if !s.Contains(netip.MustParseAddr(a)) {
					t.Errorf("Contains(%s) = false, want true", a)
				}
			}
			for _, a := range tc.out {
				if s.Contains(netip.MustParseAddr(a)) {
					t.Errorf("Contains(%s) = true, want false", a)
				}
			}
		})
	}
}

func TestSetNilAndInvalid(t *testing.T) {
	var nilSet *Set
	all := NewSet(mustPrefixes(t, "0.0.0.0/0", "::/0"))
	for name, s := range map[string]*Set{"nil": nilSet, "empty": NewSet(nil), "all": all} {
		if s.Contains(netip.Addr{}) {
			t.Errorf("%s: Contains(zero Addr) = true", name)
		}
	}
	if nilSet.Contains(netip.MustParseAddr("10.0.0.1")) || nilSet.Len() != 0 {
		t.Error("nil Set is not empty")
	}
	s := NewSet([]netip.Prefix{{}, netip.PrefixFrom(netip.MustParseAddr("10.0.0.1"), 33)})
	if s.Len() != 0 || s.Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Errorf("Set of invalid prefixes has Len %d", s.Len())
	}
}

func TestSetLen(t *testing.T) {
	s := NewSet(mustPrefixes(t, "10.0.0.0/8", "10.1.2.3/8", "::ffff:10.0.0.0/104", "10.0.0.0/9", "2001:db8::/32"))
	if s.Len() != 3 {
		t.Errorf("Len = %d, want 3 (10.0.0.0/8, 10.0.0.0/9, 2001:db8::/32)", s.Len())
	}
}

// TestSetMatchesLinearScan compares Contains with a scan of every prefix, over random sets
// dense enough that ranges nest, overlap and touch.
func TestSetMatchesLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		prefixes := randomPrefixes(rng, 1+rng.IntN(200), true)
		s := NewSet(prefixes)
		for range 2000 {
			a := randomNear(rng, prefixes)
			want := false
			for _, p := range prefixes {
				want = want || p.Contains(a)
			}
			if got := s.Contains(a); got != want {
				t.Fatalf("round %d: Contains(%s) = %v, linear scan says %v", round, a, got, want)
			}
		}
	}
}

// randomPrefixes returns n random prefixes, IPv4 and, if v6, IPv6, in a narrow part of the
// address space so that they overlap.
func randomPrefixes(rng *rand.Rand, n int, v6 bool) []netip.Prefix {
	list := make([]netip.Prefix, 0, n)
	for range n {
		if v6 && rng.IntN(2) == 0 {
			var b [16]byte
			b[0], b[1], b[7], b[8], b[15] = 0x20, 0x01, byte(rng.IntN(4)), byte(rng.IntN(256)), byte(rng.IntN(256))
			bits := []int{48, 56, 62, 63, 64, 65, 72, 120, 127, 128}[rng.IntN(10)]
			list = append(list, netip.PrefixFrom(netip.AddrFrom16(b), bits).Masked())
			continue
		}
		b := [4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(256)), byte(rng.IntN(256))}
		list = append(list, netip.PrefixFrom(netip.AddrFrom4(b), 14+rng.IntN(19)).Masked())
	}
	return list
}

// randomNear returns the first or last address of one of the prefixes, or the address just
// outside it, or a random one in their part of the space.
func randomNear(rng *rand.Rand, prefixes []netip.Prefix) netip.Addr {
	p := prefixes[rng.IntN(len(prefixes))]
	var a netip.Addr
	switch rng.IntN(5) {
	case 0:
		return p.Addr()
	case 1:
		a = p.Addr().Prev()
	case 2:
		return lastAddr(p)
	case 3:
		a = lastAddr(p).Next()
	default:
		b := p.Addr().AsSlice()
		b[len(b)-1], b[len(b)-2] = byte(rng.IntN(256)), byte(rng.IntN(256))
		a, _ = netip.AddrFromSlice(b)
	}
	if !a.IsValid() { // stepped off the end of the address space
		return p.Addr()
	}
	return a
}

// lastAddr returns the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func mustPrefixes(t testing.TB, s ...string) []netip.Prefix {
	t.Helper()
	list := make([]netip.Prefix, 0, len(s))
	for _, v := range s {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, p)
	}
	return list
}
