package netguard

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// host returns the prefix that holds a alone.
func host(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

func TestGuardZero(t *testing.T) {
	var g Guard
	for _, a := range []string{"10.0.0.1", "::1", "2001:db8::1"} {
		if g.Blocked(netip.MustParseAddr(a), t0) {
			t.Errorf("zero Guard blocks %s", a)
		}
	}
	if g.Blocked(netip.Addr{}, t0) {
		t.Error("zero Guard blocks the zero Addr")
	}
	g.Unban(netip.MustParsePrefix("10.0.0.1/32"))
	if n := g.Prune(t0); n != 0 {
		t.Errorf("Prune on a zero Guard = %d", n)
	}
}

func TestGuardReplace(t *testing.T) {
	var g Guard
	banned, mapped := netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("::ffff:192.0.2.8")
	g.Replace(mustPrefixes(t, "10.0.0.0/8", "2001:db8::/32"), map[netip.Prefix]time.Time{
		host(banned):                               t0.Add(time.Hour),
		netip.PrefixFrom(mapped, 128):              t0.Add(time.Hour),
		netip.MustParsePrefix("2001:db9:0:1::/64"): t0.Add(time.Hour),
	})
	tests := []struct {
		addr string
		at   time.Time
		want bool
	}{
		{"10.1.2.3", t0, true},
		{"10.1.2.3", t0.Add(1000 * time.Hour), true}, // the block list does not expire
		{"::ffff:10.1.2.3", t0, true},
		{"2001:db8::1", t0, true},
		{"2001:db8::1%eth0", t0, true},
		{"11.0.0.1", t0, false},
		{"192.0.2.7", t0, true},
		{"::ffff:192.0.2.7", t0, true},
		{"192.0.2.8", t0, true}, // banned as a mapped address
		{"192.0.2.7", t0.Add(time.Hour - time.Nanosecond), true},
		{"192.0.2.7", t0.Add(time.Hour), false}, // a ban ends at until
		{"192.0.2.7", t0.Add(2 * time.Hour), false},
		{"192.0.2.9", t0, false},
		{"2001:db9:0:1::1", t0, true}, // a banned prefix
		{"2001:db9:0:1:ffff:ffff:ffff:ffff", t0, true},
		{"2001:db9:0:2::1", t0, false},
		{"2001:db9:0:1::1", t0.Add(time.Hour), false},
	}
	for _, tc := range tests {
		if got := g.Blocked(netip.MustParseAddr(tc.addr), tc.at); got != tc.want {
			t.Errorf("Blocked(%s, t0%+v) = %v, want %v", tc.addr, tc.at.Sub(t0), got, tc.want)
		}
	}

	g.Ban(netip.MustParsePrefix("198.51.100.1/32"), t0.Add(time.Hour))
	g.Replace(mustPrefixes(t, "172.16.0.0/12"), nil)
	for addr, want := range map[string]bool{"10.1.2.3": false, "192.0.2.7": false, "198.51.100.1": false, "172.16.0.1": true} {
		if got := g.Blocked(netip.MustParseAddr(addr), t0); got != want {
			t.Errorf("after a second Replace: Blocked(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestGuardReplaceCopiesBans(t *testing.T) {
	var g Guard
	a := netip.MustParseAddr("192.0.2.7")
	bans := map[netip.Prefix]time.Time{host(a): t0.Add(time.Hour)}
	g.Replace(nil, bans)
	delete(bans, host(a))
	if !g.Blocked(a, t0) {
		t.Error("changing the map given to Replace changed the Guard")
	}
}

func TestGuardBan(t *testing.T) {
	var g Guard
	a := netip.MustParseAddr("2001:db8::7")
	g.Replace(mustPrefixes(t, "10.0.0.0/8"), nil)
	g.Ban(host(a), t0.Add(time.Hour))
	g.Ban(host(a), t0.Add(time.Minute)) // an earlier end does not shorten the ban
	g.Ban(netip.Prefix{}, t0.Add(time.Hour))
	if !g.Blocked(a, t0.Add(30*time.Minute)) || g.Blocked(a, t0.Add(time.Hour)) {
		t.Error("ban does not run until its later end")
	}
	if !g.Blocked(netip.MustParseAddr("10.0.0.1"), t0) {
		t.Error("Ban dropped the block list")
	}
	g.Ban(host(a), t0.Add(2*time.Hour))
	if !g.Blocked(a, t0.Add(90*time.Minute)) {
		t.Error("a later end does not extend the ban")
	}
	g.Unban(host(a))
	if g.Blocked(a, t0) {
		t.Error("Unban left the ban")
	}
	if !g.Blocked(netip.MustParseAddr("10.0.0.1"), t0) {
		t.Error("Unban dropped the block list")
	}
}

func TestGuardPrune(t *testing.T) {
	var g Guard
	for i := range 10 {
		g.Ban(host(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})), t0.Add(time.Duration(i)*time.Minute))
	}
	if n := g.Prune(t0.Add(4 * time.Minute)); n != 5 {
		t.Errorf("Prune = %d, want 5 (the bans ending at t0 … t0+4m)", n)
	}
	if n := len(g.snap.Load().bans); n != 5 {
		t.Errorf("%d bans left, want 5", n)
	}
	if !g.Blocked(netip.MustParseAddr("192.0.2.9"), t0) {
		t.Error("Prune dropped a current ban")
	}
}

// TestGuardConcurrent runs readers against writers that Replace and Ban; run it with -race.
// Every state the writers store blocks "always" and none blocks "never", so a reader that
// sees a half-built or lost state fails.
func TestGuardConcurrent(t *testing.T) {
	var g Guard
	always, banned, never := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("203.0.113.1")
	block, far := netip.MustParsePrefix("10.0.0.0/8"), t0.Add(24*time.Hour)
	g.Replace([]netip.Prefix{block}, map[netip.Prefix]time.Time{host(banned): far})

	stop := make(chan struct{})
	var readers, writers sync.WaitGroup
	errs := make(chan string, 8)
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !g.Blocked(always, t0) || !g.Blocked(banned, t0) || g.Blocked(never, t0) {
					errs <- "a reader saw an inconsistent state"
					return
				}
			}
		})
	}
	for w := range 2 {
		writers.Go(func() {
			for i := range 200 {
				extra := netip.MustParsePrefix(fmt.Sprintf("172.%d.%d.0/24", w, i))
				g.Replace([]netip.Prefix{block, extra}, map[netip.Prefix]time.Time{host(banned): far})
				g.Ban(host(netip.AddrFrom4([4]byte{198, 51, byte(w), byte(i)})), far)
				g.Ban(netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 4: byte(w), 5: byte(i)}), 64), far)
				g.Ban(host(banned), far)
				g.Prune(t0)
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestBlockedAllocs(t *testing.T) {
	g, hits, misses := benchGuard(t, 1000)
	for name, a := range map[string]netip.Addr{"hit": hits[0], "miss": misses[0], "ban": hits[len(hits)-1]} {
		if n := testing.AllocsPerRun(100, func() { g.Blocked(a, t0) }); n != 0 {
			t.Errorf("Blocked(%s) allocates %v times", name, n)
		}
	}
}

func TestAllowed(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::1")
	allow := NewSet(mustPrefixes(t, "10.0.0.0/8"))
	tests := []struct {
		name  string
		allow *Set
		addr  netip.Addr
		want  bool
	}{
		{"nil list", nil, b, true},
		{"empty list", NewSet(nil), b, true},
		{"invalid only", NewSet([]netip.Prefix{{}}), b, true},
		{"inside", allow, a, true},
		{"mapped inside", allow, netip.MustParseAddr("::ffff:10.0.0.1"), true},
		{"outside", allow, b, false},
		{"zero Addr", allow, netip.Addr{}, false},
	}
	for _, tc := range tests {
		if got := Allowed(tc.allow, tc.addr); got != tc.want {
			t.Errorf("%s: Allowed(%v) = %v, want %v", tc.name, tc.addr, got, tc.want)
		}
	}
}

// benchGuard returns a Guard with n random prefixes in its block list (IPv4 and IPv6) and n
// bans, addresses it blocks (the last one by a ban only), and addresses it does not.
func benchGuard(tb testing.TB, n int) (g *Guard, hits, misses []netip.Addr) {
	tb.Helper()
	list, bans := benchPrefixes(n, 1), make(map[netip.Prefix]time.Time, n)
	for i := range n {
		bans[host(netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)}))] = t0.Add(time.Hour)
		bans[netip.PrefixFrom(netip.AddrFrom16([16]byte{0x2a, 0x02, 2: byte(i >> 8), 3: byte(i)}), 64)] = t0.Add(time.Hour)
	}
	g = new(Guard)
	g.Replace(list, bans)
	for i := range 1024 {
		hits = append(hits, list[i%n].Addr())
		if a := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}); !g.Blocked(a, t0) {
			misses = append(misses, a)
		}
		if a := netip.AddrFrom16([16]byte{0x26, 0x00, 15: byte(i)}); !g.Blocked(a, t0) {
			misses = append(misses, a)
		}
	}
	hits = append(hits, netip.AddrFrom4([4]byte{100, 64, 0, 1}))
	if len(misses) < 1000 {
		tb.Fatalf("only %d of 2048 miss addresses are not blocked", len(misses))
	}
	return g, hits, misses
}

// benchPrefixes returns n pseudo-random prefixes of mixed lengths, a fifth of them IPv6,
// spread over 10.0.0.0/8 … 99.0.0.0/8 and 2001:db8::/32 in the way of a real block list.
func benchPrefixes(n int, seed uint64) []netip.Prefix {
	list := make([]netip.Prefix, 0, n)
	x := seed
	for i := range n {
		x = x*6364136223846793005 + 1442695040888963407
		if i%5 == 0 {
			b := [16]byte{0x20, 0x01, 0x0d, 0xb8, byte(x >> 56), byte(x >> 48), byte(x >> 40), byte(x >> 32), 15: byte(x)}
			list = append(list, netip.PrefixFrom(netip.AddrFrom16(b), []int{48, 56, 64, 128}[x>>8&3]).Masked())
			continue
		}
		b := [4]byte{10 + byte(x>>56)%90, byte(x >> 48), byte(x >> 40), byte(x >> 32)}
		list = append(list, netip.PrefixFrom(netip.AddrFrom4(b), []int{16, 20, 24, 28, 32, 32, 32, 32}[x>>8&7]).Masked())
	}
	return list
}

func BenchmarkBlocked(b *testing.B) {
	g, hits, misses := benchGuard(b, 10_000)
	for _, bc := range []struct {
		name  string
		addrs []netip.Addr
	}{
		{"hit", hits[:len(hits)-1]},
		{"ban", hits[len(hits)-1:]},
		{"miss", misses},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if g.Blocked(bc.addrs[i%len(bc.addrs)], t0) != (bc.name != "miss") {
					b.Fatal("wrong answer")
				}
				i++
			}
		})
	}
}

func BenchmarkAllowed(b *testing.B) {
	list := benchPrefixes(10_000, 2)
	allow := NewSet(list)
	in, out := list[0].Addr(), netip.MustParseAddr("2600::1")
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !Allowed(allow, in) {
				b.Fatal("wrong answer")
			}
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if Allowed(allow, out) {
				b.Fatal("wrong answer")
			}
		}
	})
}

// BenchmarkRequest is what every request pays: the allow list, then the block list and bans.
func BenchmarkRequest(b *testing.B) {
	g, _, misses := benchGuard(b, 10_000)
	allow := NewSet(mustPrefixes(b, "192.0.2.0/24", "2600::/16"))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		a := misses[i%len(misses)]
		if !Allowed(allow, a) || g.Blocked(a, t0) {
			b.Fatal("wrong answer")
		}
		i++
	}
}
