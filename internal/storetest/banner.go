package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestBanner checks the website banner's store side on each engine: its settings (only
// consent purposes, origins normalised, bad input refused and nothing changed), a receipt
// stored with a keyed user-agent hash and no user agent, a bad receipt refused with nothing
// stored, Global Privacy Control stored as an opt-out, tenant isolation of receipts and
// statistics, and the retention sweep deleting a receipt at the end of its period.
func TestBanner(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("Fjord Travel AS"), e.newTenant("Vistula Clinic")
	ctxA, ctxB := e.as(a, ""), e.as(b, "")
	analytics := &skjold.Purpose{Name: "analytics", LegalBasis: skjold.BasisConsent, Notice: "We count visits."}
	_, err := e.db.PutPurpose(ctxA, analytics)
	must(t, err)
	_, err = e.db.PutPurpose(ctxA, &skjold.Purpose{Name: "marketing", LegalBasis: skjold.BasisConsent, Notice: "Ads."})
	must(t, err)

	def, err := e.db.BannerSettings(ctxA)
	if err != nil || len(def.Origins) != 0 || def.RetentionDays != skjold.DefaultReceiptDays {
		t.Fatalf("default settings: %+v, %v", def, err)
	}
	for name, bad := range map[string]*skjold.BannerSettings{
		"path":           {Origins: []string{"https://www.fjord.example/shop"}},
		"scheme":         {Origins: []string{"ftp://fjord.example"}},
		"duplicate":      {Origins: []string{"https://fjord.example", "HTTPS://FJORD.example"}},
		"not consent":    {Purposes: []string{"legal_claims"}},
		"unregistered":   {Purposes: []string{"pixels"}},
		"retention":      {RetentionDays: -1},
		"long retention": {RetentionDays: skjold.MaxReceiptDays + 1},
	} {
		if err := e.db.PutBannerSettings(ctxA, bad); skjold.ErrorCode(err) != skjold.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	if got, _ := e.db.BannerSettings(ctxA); len(got.Origins) != 0 || len(got.Purposes) != 0 {
		t.Fatalf("refused settings changed something: %+v", got)
	}
	must(t, e.db.PutBannerSettings(ctxA, &skjold.BannerSettings{Origins: []string{"https://WWW.Fjord.example/"},
		Purposes: []string{"analytics", "marketing"}, RetentionDays: 30}))
	got, err := e.db.BannerSettings(ctxA)
	if err != nil || !slices.Equal(got.Origins, []string{"https://www.fjord.example"}) || got.RetentionDays != 30 {
		t.Fatalf("settings: %+v, %v", got, err)
	}
	cfg, err := e.db.BannerConfig(t.Context(), a.ID)
	if err != nil || len(cfg.Purposes) != 2 || cfg.Purposes[0].Name != "analytics" || cfg.Purposes[0].NoticeVersion != 1 ||
		cfg.Purposes[0].Notice != "We count visits." {
		t.Fatalf("config: %+v, %v", cfg, err)
	}
	if cb, err := e.db.BannerConfig(t.Context(), b.ID); err != nil || len(cb.Purposes) != 0 || len(cb.Origins) != 0 {
		t.Fatalf("the other tenant's banner: %+v, %v", cb, err)
	}

	const ua = "Mozilla/5.0 (X11; Linux x86_64) Fjord test"
	id := strings.Repeat("0123456789abcdef", 2)
	good := func() *skjold.ConsentReceipt {
		return &skjold.ConsentReceipt{ConsentID: id, Method: skjold.ReceiptChoose,
			Choices: map[string]bool{"analytics": true, "marketing": false}, NoticeVersions: map[string]int{"analytics": 1, "marketing": 1}}
	}
	raw := e.raw()
	for name, change := range map[string]func(r *skjold.ConsentReceipt){
		"consent id":    func(r *skjold.ConsentReceipt) { r.ConsentID = "not-hex" },
		"method":        func(r *skjold.ConsentReceipt) { r.Method = "maybe" },
		"extra purpose": func(r *skjold.ConsentReceipt) { r.Choices["pixels"] = true },
		"missing":       func(r *skjold.ConsentReceipt) { delete(r.Choices, "marketing") },
		"version":       func(r *skjold.ConsentReceipt) { r.NoticeVersions["analytics"] = 2 },
		"gpc method":    func(r *skjold.ConsentReceipt) { r.Method = skjold.ReceiptGPC },
	} {
		r := good()
		change(r)
		if err := e.db.StoreConsentReceipt(t.Context(), a.ID, r, ua); skjold.ErrorCode(err) != skjold.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	if err := e.db.StoreConsentReceipt(t.Context(), b.ID, good(), ua); skjold.ErrorCode(err) != skjold.EINVALID {
		t.Errorf("a receipt for a tenant whose banner asks nothing: %v", err)
	}
	if n := e.rawCount(raw, "SELECT COUNT(*) FROM consent_receipts"); n != 0 {
		t.Fatalf("refused receipts stored %d rows", n)
	}
	r := good()
	must(t, e.db.StoreConsentReceipt(t.Context(), a.ID, r, ua))
	if !skjold.ValidID(r.ID) || len(r.UserAgentHash) != 64 || !r.ExpiresAt.Equal(r.CreatedAt.AddDate(0, 0, 30)) {
		t.Fatalf("stored receipt: %+v", r)
	}
	gpc := &skjold.ConsentReceipt{ConsentID: strings.Repeat("f", 32), Method: skjold.ReceiptAcceptAll, GPC: true,
		Choices: map[string]bool{"analytics": true, "marketing": true}, NoticeVersions: map[string]int{"analytics": 1, "marketing": 1}}
	must(t, e.db.StoreConsentReceipt(t.Context(), a.ID, gpc, ua))
	if gpc.Choices["analytics"] || gpc.Choices["marketing"] {
		t.Errorf("a GPC receipt keeps a consent: %v", gpc.Choices)
	}
	if n := e.rawCount(raw, `SELECT COUNT(*) FROM consent_receipts WHERE choices LIKE ? OR notice_versions LIKE ?
		OR consent_id LIKE ? OR method LIKE ?`, "%Mozilla%", "%Mozilla%", "%Mozilla%", "%Mozilla%"); n != 0 {
		t.Error("the raw user agent is stored")
	}
	// The hash is keyed per tenant: the same browser on two tenants' sites is not linkable.
	_, err = e.db.PutPurpose(ctxB, &skjold.Purpose{Name: "analytics", LegalBasis: skjold.BasisConsent, Notice: "Counting."})
	must(t, err)
	must(t, e.db.PutBannerSettings(ctxB, &skjold.BannerSettings{Purposes: []string{"analytics"}}))
	rb := &skjold.ConsentReceipt{ConsentID: id, Method: skjold.ReceiptRejectAll,
		Choices: map[string]bool{"analytics": false}, NoticeVersions: map[string]int{"analytics": 1}}
	must(t, e.db.StoreConsentReceipt(t.Context(), b.ID, rb, ua))
	if rb.UserAgentHash == r.UserAgentHash {
		t.Error("two tenants hash the same user agent alike")
	}

	all, err := e.db.FindConsentReceipts(ctxA, time.Time{}, e.clock.Now().Add(time.Hour))
	if err != nil || len(all) != 2 || all[0].ID != r.ID || all[0].UserAgentHash != r.UserAgentHash || !all[1].GPC ||
		all[1].Choices["analytics"] {
		t.Fatalf("export: %+v, %v", all, err)
	}
	if other, err := e.db.FindConsentReceipts(ctxB, time.Time{}, e.clock.Now().Add(time.Hour)); err != nil || len(other) != 1 ||
		other[0].ID != rb.ID {
		t.Fatalf("the other tenant's export: %d receipts, %v", len(other), err)
	}
	st, err := e.db.ConsentStats(ctxA, e.clock.Now().AddDate(0, 0, -30))
	if err != nil || st.Receipts != 2 || st.GPC != 1 || len(st.Purposes) != 2 || st.Purposes[0].Accepted != 1 ||
		st.Purposes[0].Rejected != 1 || st.Purposes[1].Rejected != 2 {
		t.Fatalf("stats: %+v %+v, %v", st, st.Purposes, err)
	}
	if sb, err := e.db.ConsentStats(ctxB, e.clock.Now().AddDate(0, 0, -30)); err != nil || sb.Receipts != 1 || sb.Purposes[0].Rejected != 1 {
		t.Fatalf("the other tenant's stats: %+v, %v", sb, err)
	}

	e.clock.Add(29 * 24 * time.Hour)
	rep, err := e.db.Sweep(t.Context(), 100)
	if err != nil || rep.ConsentReceipts != 0 {
		t.Fatalf("a sweep before the end of the period: %+v, %v", rep, err)
	}
	e.clock.Add(25 * time.Hour)
	if rep, err = e.db.Sweep(t.Context(), 1); err != nil || rep.ConsentReceipts != 2 {
		t.Fatalf("the sweep after the period: %+v, %v", rep, err)
	}
	if n := e.rawCount(raw, "SELECT COUNT(*) FROM consent_receipts WHERE tenant_id = ?", a.ID); n != 0 {
		t.Fatalf("%d receipts outlived their period", n)
	}
	// B keeps its receipts for the default period.
	if n := e.rawCount(raw, "SELECT COUNT(*) FROM consent_receipts WHERE tenant_id = ?", b.ID); n != 1 {
		t.Fatalf("the sweep took %d of B's receipts, which are kept longer", 1-n)
	}
}
