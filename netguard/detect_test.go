package netguard

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDetectorDefaultRules(t *testing.T) {
	want := map[string]Rule{
		KindLoginFailed:  {KindLoginFailed, 10, 10 * time.Minute},
		KindTokenInvalid: {KindTokenInvalid, 20, 10 * time.Minute},
		KindTenantProbe:  {KindTenantProbe, 5, 10 * time.Minute},
		KindUnauthorized: {KindUnauthorized, 100, time.Minute},
		KindNotFound:     {KindNotFound, 100, time.Minute},
		KindDenied:       {KindDenied, 100, time.Minute},
		KindOverload:     {KindOverload, 20, time.Minute},
	}
	rules := DefaultRules()
	if len(rules) != len(want) {
		t.Fatalf("DefaultRules has %d rules, want %d", len(rules), len(want))
	}
	for _, r := range rules {
		if want[r.Kind] != r {
			t.Errorf("rule %v, want %v", r, want[r.Kind])
		}
	}

	for _, r := range rules {
		t.Run(r.Kind, func(t *testing.T) {
			d := NewDetector(DetectorConfig{})
			addr := netip.MustParseAddr("203.0.113.9")
			// Events of other kinds from the same address do not count towards this rule.
			for _, o := range rules {
				if o.Kind != r.Kind {
					d.Observe(Event{o.Kind, addr, t0})
				}
			}
			// Spread the events over the window, the last just inside it.
			step := r.Window * 15 / 16 / time.Duration(r.Threshold)
			for i := range r.Threshold - 1 {
				if _, _, banned := first(d.Observe(Event{r.Kind, addr, t0.Add(time.Duration(i) * step)})); banned {
					t.Fatalf("banned after %d events", i+1)
				}
			}
			ban, rule, banned := first(d.Observe(Event{r.Kind, addr, t0.Add(time.Duration(r.Threshold-1) * step)}))
			if !banned || ban != 15*time.Minute || rule != r.String() {
				t.Errorf("event %d: Observe = %v, %q, %v; want a 15m ban by %q", r.Threshold, ban, rule, banned, r.String())
			}
		})
	}
}

// first returns the first ban of bans as a length, a rule and whether there is one.
func first(bans []Ban) (time.Duration, string, bool) {
	if len(bans) == 0 {
		return 0, "", false
	}
	return bans[0].For, bans[0].Rule, true
}

func TestDetectorAddresses(t *testing.T) {
	tests := []struct {
		name       string
		ipv6Prefix int
		second     string // observed after "first"
		first      string
		want       string // the prefix banned on the second event; "" for none
	}{
		{"IPv4 addresses apart", 0, "192.0.2.2", "192.0.2.1", ""},
		{"IPv4 mapped", 0, "::ffff:192.0.2.1", "192.0.2.1", "192.0.2.1/32"},
		{"one IPv6 /64", 0, "2001:db8::1:1", "2001:db8::1", "2001:db8::/64"},
		{"one IPv6 /64, far apart", 0, "2001:db8:0:7:ffff:ffff:ffff:ffff", "2001:db8:0:7::", "2001:db8:0:7::/64"},
		{"IPv6 /64s apart", 0, "2001:db8:0:1::1", "2001:db8::1", ""},
		{"zone ignored", 0, "2001:db8::1%eth0", "2001:db8::1", "2001:db8::/64"},
		{"configured /56", 56, "2001:db8:0:ff::1", "2001:db8::1", "2001:db8::/56"},
		{"configured /128", 128, "2001:db8::2", "2001:db8::1", ""},
		{"configured /128, same address", 128, "2001:db8::1", "2001:db8::1", "2001:db8::1/128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDetector(DetectorConfig{Rules: []Rule{{KindTenantProbe, 2, time.Minute}}, IPv6Prefix: tt.ipv6Prefix})
			if bans := d.Observe(Event{KindTenantProbe, netip.MustParseAddr(tt.first), t0}); len(bans) > 0 {
				t.Fatalf("banned on the first event: %v", bans)
			}
			bans := d.Observe(Event{KindTenantProbe, netip.MustParseAddr(tt.second), t0})
			got := ""
			if len(bans) > 0 {
				got = bans[0].Prefix.String()
			}
			if got != tt.want || len(bans) > 1 {
				t.Errorf("second event banned %v, want %q", bans, tt.want)
			}
		})
	}
}

// TestDetectorWidens: an attacker who moves to a fresh /64 after each ban is banned by the
// /56 after three /64 bans in it, and by the /48 after three /56 bans, no wider; the widened
// bans escalate like any other.
func TestDetectorWidens(t *testing.T) {
	d := NewDetector(DetectorConfig{Rules: []Rule{{KindLoginFailed, 1, time.Minute}}, BaseBan: time.Minute, MaxBan: time.Hour})
	ban := func(addr string, at time.Duration) []Ban {
		return d.Observe(Event{KindLoginFailed, netip.MustParseAddr(addr), t0.Add(at)})
	}
	prefixes := func(bans []Ban) []string {
		var out []string
		for _, b := range bans {
			out = append(out, b.Prefix.String())
		}
		return out
	}
	steps := []struct {
		addr string
		want []string
	}{
		{"2001:db8:0:1::1", []string{"2001:db8:0:1::/64"}},
		{"2001:db8:0:2::1", []string{"2001:db8:0:2::/64"}},
		{"2001:db8:1:2::1", []string{"2001:db8:1:2::/64"}}, // another /56
		{"2001:db8:0:3::1", []string{"2001:db8:0:3::/64", "2001:db8::/56"}},
		{"2001:db8:0:100::1", []string{"2001:db8:0:100::/64"}}, // a third /56
		{"2001:db8:0:101::1", []string{"2001:db8:0:101::/64"}},
		{"2001:db8:0:102::1", []string{"2001:db8:0:102::/64", "2001:db8:0:100::/56"}},
		{"2001:db8:0:200::1", []string{"2001:db8:0:200::/64"}},
		{"2001:db8:0:201::1", []string{"2001:db8:0:201::/64"}},
		{"2001:db8:0:202::1", []string{"2001:db8:0:202::/64", "2001:db8:0:200::/56", "2001:db8::/48"}},
		{"198.51.100.1", []string{"198.51.100.1/32"}}, // IPv4 is never widened
		{"198.51.100.2", []string{"198.51.100.2/32"}},
		{"198.51.100.3", []string{"198.51.100.3/32"}},
	}
	for i, st := range steps {
		bans := ban(st.addr, time.Duration(i)*time.Second)
		if got := prefixes(bans); !slices.Equal(got, st.want) {
			t.Errorf("%s: banned %v, want %v", st.addr, got, st.want)
		}
		for _, b := range bans[1:] {
			if b.For < bans[0].For || !strings.Contains(b.Rule, "login_failed") {
				t.Errorf("widened ban %+v: want at least the triggering ban's length and its rule named", b)
			}
		}
	}
	// The /56 bans again after three more /64 bans in it, for twice as long.
	for i, addr := range []string{"2001:db8:0:4::1", "2001:db8:0:5::1"} {
		ban(addr, time.Minute+time.Duration(i)*time.Second)
	}
	bans := ban("2001:db8:0:6::1", 2*time.Minute)
	if len(bans) < 2 || bans[1].Prefix.String() != "2001:db8::/56" || bans[1].For != 2*time.Minute {
		t.Errorf("repeat /56: %+v, want a 2m ban of 2001:db8::/56", bans)
	}
	// A /64 banned again does not count again towards its /56: it is banned for longer.
	for i := range 3 {
		if bans := ban("2001:db8:0:1::1", 3*time.Minute+time.Duration(i)*time.Second); len(bans) != 1 {
			t.Errorf("/64 banned again, %d: %+v, want only the /64", i+1, bans)
		}
	}
}

func TestDetectorIgnores(t *testing.T) {
	tests := []struct {
		name        string
		banLoopback bool
		event       Event
		want        bool // banned on the second event
	}{
		{"loopback v4", false, Event{KindLoginFailed, netip.MustParseAddr("127.0.0.1"), t0}, false},
		{"loopback v4 /8", false, Event{KindLoginFailed, netip.MustParseAddr("127.9.9.9"), t0}, false},
		{"loopback v6", false, Event{KindLoginFailed, netip.MustParseAddr("::1"), t0}, false},
		{"loopback mapped", false, Event{KindLoginFailed, netip.MustParseAddr("::ffff:127.0.0.1"), t0}, false},
		{"loopback allowed", true, Event{KindLoginFailed, netip.MustParseAddr("127.0.0.1"), t0}, true},
		{"loopback v6 allowed", true, Event{KindLoginFailed, netip.MustParseAddr("::1"), t0}, true},
		{"zero address", true, Event{KindLoginFailed, netip.Addr{}, t0}, false},
		{"unknown kind", true, Event{"coffee_spilled", netip.MustParseAddr("192.0.2.1"), t0}, false},
		{"empty kind", true, Event{"", netip.MustParseAddr("192.0.2.1"), t0}, false},
		{"private address", false, Event{KindLoginFailed, netip.MustParseAddr("10.0.0.1"), t0}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDetector(DetectorConfig{Rules: []Rule{{KindLoginFailed, 2, time.Minute}}, BanLoopback: tc.banLoopback})
			d.Observe(tc.event)
			if _, _, banned := first(d.Observe(tc.event)); banned != tc.want {
				t.Errorf("banned = %v, want %v", banned, tc.want)
			}
		})
	}
}

func TestDetectorLongestBan(t *testing.T) {
	quick, slow := Rule{KindNotFound, 1, time.Minute}, Rule{KindNotFound, 2, time.Hour}
	d := NewDetector(DetectorConfig{Rules: []Rule{slow, quick}, BaseBan: time.Minute, MaxBan: time.Hour})
	e := Event{KindNotFound, netip.MustParseAddr("192.0.2.1"), t0}
	for i, want := range []struct {
		ban  time.Duration
		rule Rule
	}{
		{time.Minute, quick},
		{2 * time.Minute, quick}, // slow trips too, with its first ban of 1 min
		{4 * time.Minute, quick},
		{8 * time.Minute, quick},
	} {
		ban, rule, banned := first(d.Observe(e))
		if !banned || ban != want.ban || rule != want.rule.String() {
			t.Errorf("event %d: Observe = %v, %q, %v; want %v by %q", i+1, ban, rule, banned, want.ban, want.rule)
		}
	}
}

func TestDetectorRuleDefaults(t *testing.T) {
	d := NewDetector(DetectorConfig{Rules: []Rule{{Kind: KindLoginFailed}}})
	e := Event{KindLoginFailed, netip.MustParseAddr("192.0.2.1"), t0}
	for range 9 {
		d.Observe(e)
	}
	if _, rule, banned := first(d.Observe(e)); !banned || rule != "login_failed 10/10m0s" {
		t.Errorf("10th event: rule %q, banned %v; want the Tracker defaults in the rule's name", rule, banned)
	}
}

func TestDetectorNoRules(t *testing.T) {
	d := NewDetector(DetectorConfig{Rules: []Rule{}})
	for range 1000 {
		if _, _, banned := first(d.Observe(Event{KindLoginFailed, netip.MustParseAddr("192.0.2.1"), t0})); banned {
			t.Fatal("an empty rule list bans")
		}
	}
}
