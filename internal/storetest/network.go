package storetest

import (
	"net/netip"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestNetwork checks the skjold.NetworkService and the allow lists: bans that outlive a
// restart and reach every node, the operator's block list, and per-tenant allowed networks.
func TestNetwork(t *testing.T, h Harness) {
	t.Run("BansAndBlockList", func(t *testing.T) { testBans(t, h, newEnv(t, h)) })
	t.Run("AllowedNetworks", func(t *testing.T) { testAllowedNetworks(t, newEnv(t, h)) })
}

func testBans(t *testing.T, h Harness, e *env) {
	addr := netip.MustParsePrefix("198.51.100.7/32")
	net64 := netip.MustParsePrefix("2001:db8:1:2::/64")
	must(t, e.db.Ban(t.Context(), addr, epoch.Add(time.Hour), "login_failed 10/10m0s"))
	must(t, e.db.Ban(t.Context(), addr, epoch.Add(time.Minute), "not_found 100/1m0s")) // shorter: ignored
	must(t, e.db.Ban(t.Context(), netip.MustParsePrefix("::ffff:203.0.113.9/128"), epoch.Add(-time.Minute), "old"))
	must(t, e.db.Ban(t.Context(), netip.MustParsePrefix("2001:db8:1:2::99/64"), epoch.Add(time.Hour), "login_failed 10/10m0s"))
	wantCode(t, e.db.Ban(t.Context(), netip.Prefix{}, epoch.Add(time.Hour), "x"), skjold.EINVALID)
	list := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	wantCode(t, e.db.PutBlockList(e.as(e.newTenant("Fjord Travel AS"), ""), list), skjold.EFORBIDDEN)
	must(t, e.db.PutBlockList(e.staff(), list))

	// Another node (or this one after a restart) sees the same state.
	other := h.Reopen(t, e.db, e.options(e.keys))
	blocked, bans, err := other.GuardState(t.Context())
	must(t, err)
	if len(blocked) != 2 || blocked[0] != list[0] || blocked[1] != list[1] {
		t.Errorf("block list on another node = %v, want %v", blocked, list)
	}
	if len(bans) != 2 || !bans[addr].Equal(epoch.Add(time.Hour)) || !bans[net64].Equal(epoch.Add(time.Hour)) {
		t.Errorf("bans on another node = %v, want only %s and %s until %v (the longer ban; expired ones dropped)",
			bans, addr, net64, epoch.Add(time.Hour))
	}
	found, err := e.db.FindBans(e.staff())
	must(t, err)
	if len(found) != 2 || found[0].Addr != "198.51.100.7" || found[0].Reason != "login_failed 10/10m0s" ||
		found[1].Addr != "2001:db8:1:2::/64" {
		t.Errorf("FindBans = %+v", found)
	}
	wantCode(t, e.db.Unban(e.staff(), netip.MustParsePrefix("198.51.100.8/32")), skjold.ENOTFOUND)
	wantCode(t, e.db.Unban(e.staff(), netip.MustParsePrefix("2001:db8:1:2::/128")), skjold.ENOTFOUND)
	must(t, e.db.Unban(e.staff(), addr))
	must(t, e.db.Unban(e.staff(), net64))
	if _, bans, _ = other.GuardState(t.Context()); len(bans) != 0 {
		t.Errorf("after unban, bans = %v", bans)
	}
	if e.countActions("security.ban") != 4 || e.countActions("security.unban") != 2 || e.countActions("security.blocklist") != 1 {
		t.Error("bans, unbans and block-list changes are not all audited")
	}
}

func testAllowedNetworks(t *testing.T, e *env) {
	a := e.newTenant("Fjord Travel AS")
	ctx := e.as(a, "")
	set, err := e.db.SessionSettings(ctx)
	must(t, err)
	set.AllowedNetworks = []string{"10.1.2.3/8", "2001:db8::1"}
	must(t, e.db.PutSessionSettings(ctx, set))
	got, err := e.db.SessionSettings(ctx)
	must(t, err)
	if len(got.AllowedNetworks) != 2 || got.AllowedNetworks[0] != "10.0.0.0/8" || got.AllowedNetworks[1] != "2001:db8::1/128" {
		t.Errorf("allowed networks stored as %v, want them masked", got.AllowedNetworks)
	}
	set.AllowedNetworks = []string{"10.0.0.0/33"}
	wantCode(t, e.db.PutSessionSettings(ctx, set), skjold.EINVALID)

	from := func(source string) *skjold.Caller { return &skjold.Caller{Actor: "anonymous", Source: source} }
	for _, c := range []struct {
		source string
		ok     bool
	}{
		{"10.200.0.1", true}, {"2001:db8::1", true}, {"::ffff:10.9.9.9", true},
		{"192.0.2.1", false}, {"2001:db8::2", false}, {"not an address", false},
	} {
		_, err := e.db.Authenticate(skjoldCtx(t, from(c.source)), a.token.Secret)
		if (err == nil) != c.ok {
			t.Errorf("token from %s: err = %v, want allowed = %v", c.source, err, c.ok)
		}
	}
	if e.countActions("security.denied_address") != 3 {
		t.Errorf("%d denied-address events, want 3", e.countActions("security.denied_address"))
	}
	// Another tenant's tokens are not limited by A's list.
	b := e.newTenant("Vistula Clinic")
	if _, err := e.db.Authenticate(skjoldCtx(t, from("192.0.2.1")), b.token.Secret); err != nil {
		t.Errorf("tenant B's token refused by tenant A's allow list: %v", err)
	}
}
