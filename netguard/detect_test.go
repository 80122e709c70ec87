package netguard

import (
	"net/netip"
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
				if _, _, banned := d.Observe(Event{r.Kind, addr, t0.Add(time.Duration(i) * step)}); banned {
					t.Fatalf("banned after %d events", i+1)
				}
			}
			ban, rule, banned := d.Observe(Event{r.Kind, addr, t0.Add(time.Duration(r.Threshold-1) * step)})
			if !banned || ban != 15*time.Minute || rule != r.String() {
				t.Errorf("event %d: Observe = %v, %q, %v; want a 15m ban by %q", r.Threshold, ban, rule, banned, r.String())
			}
		})
	}
}

func TestDetectorAddresses(t *testing.T) {
	d := NewDetector(DetectorConfig{Rules: []Rule{{KindTenantProbe, 2, time.Minute}}})
	observe := func(addr string) bool {
		_, _, banned := d.Observe(Event{KindTenantProbe, netip.MustParseAddr(addr), t0})
		return banned
	}
	if observe("192.0.2.1") || observe("192.0.2.2") || observe("2001:db8::1") || observe("2001:db8::1:1") {
		t.Fatal("banned on the first event of each address")
	}
	if !observe("::ffff:192.0.2.1") {
		t.Error("a mapped address is not counted as its IPv4 address")
	}
	if !observe("2001:db8::1%eth0") {
		t.Error("a zone makes a different address")
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
			if _, _, banned := d.Observe(tc.event); banned != tc.want {
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
		ban, rule, banned := d.Observe(e)
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
	if _, rule, banned := d.Observe(e); !banned || rule != "login_failed 10/10m0s" {
		t.Errorf("10th event: rule %q, banned %v; want the Tracker defaults in the rule's name", rule, banned)
	}
}

func TestDetectorNoRules(t *testing.T) {
	d := NewDetector(DetectorConfig{Rules: []Rule{}})
	for range 1000 {
		if _, _, banned := d.Observe(Event{KindLoginFailed, netip.MustParseAddr("192.0.2.1"), t0}); banned {
			t.Fatal("an empty rule list bans")
		}
	}
}
