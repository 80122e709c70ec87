package storetest

import (
	"testing"

	"github.com/skjold-project/skjold"
)

// TestPrivacyCenter checks the privacy center's store side on each engine: slugs derived
// from names and unique, tenants found by slug, a request opened for a known and for an
// unknown address (an id either way, a code only to the address on file), verified into a
// status secret, the subject's language and proposal kept, and the slug set by the admin.
func TestPrivacyCenter(t *testing.T, h Harness) {
	e := newRequestEnv(t, h)
	a := e.newTenant("Fjord Ålesund AS")
	b := e.newTenant("Fjord Ålesund AS")
	pa, err := e.db.PublicTenant(t.Context(), "fjord-alesund-as")
	if err != nil || pa.ID != a.ID {
		t.Fatalf("PublicTenant: %+v, %v", pa, err)
	}
	pb, err := e.db.PublicTenant(t.Context(), "fjord-alesund-as-2")
	if err != nil || pb.ID != b.ID {
		t.Fatalf("the second tenant of the same name: %+v, %v", pb, err)
	}
	_, err = e.db.PublicTenant(t.Context(), "no-such")
	wantCode(t, err, skjold.ENOTFOUND)

	ctx := e.as(a, "")
	s := e.newSubject(ctx, &skjold.Subject{Name: "Kari", Email: "kari@example.com"})
	unknownID, err := e.db.OpenSubjectRequest(t.Context(), a.ID, &skjold.Request{Type: skjold.RequestAccess},
		skjold.SubjectLookup{Email: "nobody@example.com"}, "pl", nil)
	if err != nil || !skjold.ValidID(unknownID) {
		t.Fatalf("unknown address: %q, %v", unknownID, err)
	}
	id, err := e.db.OpenSubjectRequest(t.Context(), a.ID, &skjold.Request{Type: skjold.RequestRectification},
		skjold.SubjectLookup{Email: s.Email}, "pl", map[string]string{"name": "Kari Nordmann"})
	must(t, err)
	code := e.requestCode(s.Email)
	_, err = e.db.VerifySubjectRequest(t.Context(), b.ID, id, code) // another tenant's page
	wantCode(t, err, skjold.EINVALID)
	_, err = e.db.VerifySubjectRequest(t.Context(), a.ID, unknownID, code)
	wantCode(t, err, skjold.EINVALID)
	secret, err := e.db.VerifySubjectRequest(t.Context(), a.ID, id, code)
	must(t, err)
	r, err := e.db.SubjectRequestStatus(t.Context(), a.ID, secret)
	if err != nil || r.ID != id || r.Status != skjold.StatusInProgress {
		t.Fatalf("status: %+v, %v", r, err)
	}
	_, err = e.db.SubjectRequestStatus(t.Context(), b.ID, secret)
	wantCode(t, err, skjold.ENOTFOUND)
	p, err := e.db.RequestProposal(ctx, id)
	if err != nil || p["name"] != "Kari Nordmann" {
		t.Fatalf("proposal: %v, %v", p, err)
	}
	raw := e.raw()
	if n := e.rawCount(raw, "SELECT COUNT(*) FROM requests WHERE id = ? AND language = 'pl'", id); n != 1 {
		t.Error("the request's language is not kept")
	}
	wantCode(t, e.db.SetPublicSlug(ctx, "fjord-alesund-as-2"), skjold.EINVALID)
	wantCode(t, e.db.SetPublicSlug(ctx, "-bad"), skjold.EINVALID)
	must(t, e.db.SetPublicSlug(ctx, "fjord"))
	if slug, err := e.db.PublicSlug(ctx); err != nil || slug != "fjord" {
		t.Errorf("PublicSlug: %q, %v", slug, err)
	}
}
