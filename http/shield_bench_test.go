package http

import (
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/netguard"
)

// The benchmarks below measure the screening every request passes before any other work,
// and the tenant allow-list check, against large lists. docs/performance.md records the
// figures.

// benchClient is the address the benchmarked requests come from: neither blocked nor banned.
var benchClient = netip.MustParseAddr("203.0.113.45")

// benchGuard returns a Guard holding 10,000 block-list prefixes and 10,000 bans, made from
// a fixed seed, none of which covers benchClient.
func benchGuard(b *testing.B) *netguard.Guard {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	list := make([]netip.Prefix, 0, 10_000)
	for len(list) < cap(list) {
		var p netip.Prefix
		if rng.IntN(5) == 0 { // a fifth IPv6, /32 to /64
			var a [16]byte
			for i := range a {
				a[i] = byte(rng.Uint32())
			}
			p = netip.PrefixFrom(netip.AddrFrom16(a), 32+rng.IntN(33)).Masked()
		} else { // IPv4, /16 to /32
			p = netip.PrefixFrom(netip.AddrFrom4(randomV4(rng)), 16+rng.IntN(17)).Masked()
		}
		if !p.Contains(benchClient) {
			list = append(list, p)
		}
	}
	until := time.Now().Add(time.Hour)
	bans := make(map[netip.Prefix]time.Time, 10_000)
	for len(bans) < 10_000 {
		if a := netip.AddrFrom4(randomV4(rng)); a != benchClient {
			bans[netip.PrefixFrom(a, 32)] = until
		}
	}
	g := &netguard.Guard{}
	g.Replace(list, bans)
	if g.Blocked(benchClient, time.Now()) {
		b.Fatalf("%s is blocked", benchClient)
	}
	return g
}

func randomV4(rng *rand.Rand) [4]byte {
	v := rng.Uint32()
	return [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// BenchmarkScreen is Server.screen around a handler that does nothing: resolving the
// client address, the block-list and ban look-up, and classifying the answer.
// "direct" is a request from the peer itself; "proxied" comes through a trusted proxy
// that names the client in X-Forwarded-For.
func BenchmarkScreen(b *testing.B) {
	sh := &Shield{Guard: benchGuard(b), Detector: netguard.NewDetector(netguard.DetectorConfig{}),
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Now: time.Now}
	s := &Server{svc: Services{Shield: sh}, log: slog.New(slog.DiscardHandler), metrics: NewMetrics("bench", nil)}
	h := s.screen(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, tc := range []struct {
		name, remote, forwarded string
	}{
		{"direct", benchClient.String() + ":43210", ""},
		{"proxied", "10.1.2.3:43210", "198.51.100.20, " + benchClient.String()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/api/v1/records/rec_1", nil)
			r.RemoteAddr = tc.remote
			if tc.forwarded != "" {
				r.Header.Set("X-Forwarded-For", tc.forwarded)
			}
			if got, _ := sh.clientAddr(r); got != benchClient {
				b.Fatalf("client address %s, want %s", got, benchClient)
			}
			// The handler writes nothing, so one recorder serves every iteration and its
			// own allocations stay out of the figures.
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
			if w.Code != http.StatusOK {
				b.Fatalf("status %d, want 200", w.Code)
			}
		})
	}
}

// BenchmarkAllowList is skjold.AddrAllowed over a tenant allow list of 50 ranges, as every
// login, session and token request of a tenant with a list checks it: an address allowed
// by the last range (the longest walk that allows), and one that no range allows.
func BenchmarkAllowList(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	nets := make([]netip.Prefix, 0, 50)
	for len(nets) < 49 {
		p := netip.PrefixFrom(netip.AddrFrom4(randomV4(rng)), 16+rng.IntN(17)).Masked()
		if !p.Contains(benchClient) && !p.Contains(netip.MustParseAddr("192.0.2.7")) {
			nets = append(nets, p)
		}
	}
	nets = append(nets, netip.MustParsePrefix("203.0.113.0/24"))
	for _, tc := range []struct {
		name, addr string
		want       bool
	}{
		{"allowed-by-last", benchClient.String(), true},
		{"denied", "192.0.2.7", false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if skjold.AddrAllowed(nets, tc.addr) != tc.want {
					b.Fatalf("AddrAllowed(%s) != %t", tc.addr, tc.want)
				}
			}
		})
	}
}
