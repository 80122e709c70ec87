package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// TestTenants checks the skjold.TenantService: creation with a first token and the built-in
// categories, finding and paging, and that only operators may manage tenants.
func TestTenants(t *testing.T, h Harness) {
	t.Run("CreateReturnsWorkingToken", func(t *testing.T) {
		e := newEnv(t, h)
		tn := e.newTenant("Fjord Travel AS")
		if !skjold.ValidID(tn.ID) {
			t.Errorf("tenant id %q is not an id", tn.ID)
		}
		if !tn.CreatedAt.Equal(epoch) {
			t.Errorf("CreatedAt = %v, want %v", tn.CreatedAt, epoch)
		}
		tok := tn.token
		if tok.Secret == "" || tok.TenantID != tn.ID || tok.Operator {
			t.Fatalf("first token = %+v, want a tenant token of %s with a secret", tok, tn.ID)
		}
		got, err := e.db.Authenticate(t.Context(), tok.Secret)
		must(t, err)
		if got.ID != tok.ID || got.TenantID != tn.ID || got.Operator || got.Secret != "" {
			t.Errorf("Authenticate = %+v, want token %s of tenant %s without secret", got, tok.ID, tn.ID)
		}
		if !sameSet(got.Scopes, skjold.AllScopes) {
			t.Errorf("scopes = %v, want %v", got.Scopes, skjold.AllScopes)
		}
	})

	t.Run("BuiltInCategories", func(t *testing.T) {
		e := newEnv(t, h)
		tn := e.newTenant("Kurs og Kompetanse")
		cats, err := e.db.FindCategories(e.as(tn, ""))
		must(t, err)
		var names []string
		for _, c := range cats {
			names = append(names, c.Name)
		}
		for _, want := range []string{"identity", "contact", "travel_booking", "invoice", "training_enrollment",
			"reservation", "enquiry", skjold.SubjectCategory} {
			if !slices.Contains(names, want) {
				t.Errorf("built-in category %q missing from %v", want, names)
			}
		}
	})

	t.Run("FindAndPage", func(t *testing.T) {
		e := newEnv(t, h)
		var ids []string
		for _, name := range []string{"A", "B", "C", "D", "E"} {
			ids = append(ids, e.newTenant("Tenant "+name).ID)
		}
		got, err := e.db.FindTenantByID(e.op, ids[2])
		must(t, err)
		if got.ID != ids[2] || got.Name != "Tenant C" || !got.CreatedAt.Equal(epoch) {
			t.Errorf("FindTenantByID = %+v", got)
		}
		var seen []string
		page := skjold.Page{Limit: 2}
		for range 10 {
			ts, err := e.db.FindTenants(e.op, page)
			must(t, err)
			if len(ts) > 2 {
				t.Fatalf("page of %d tenants, limit 2", len(ts))
			}
			for _, tn := range ts {
				seen = append(seen, tn.ID)
			}
			if len(ts) < 2 {
				break
			}
			page.After = ts[len(ts)-1].ID
		}
		if !slices.IsSorted(seen) || !sameSet(seen, ids) || len(seen) != len(ids) {
			t.Errorf("paged through %v, want every one of %v once, in id order", seen, ids)
		}
		all, err := e.db.FindTenants(e.op, skjold.Page{})
		must(t, err)
		if len(all) != len(ids) {
			t.Errorf("FindTenants with the default page = %d tenants, want %d", len(all), len(ids))
		}
		for _, id := range []string{"0193d6a4-0000-7000-8000-000000000000", "nope", "", strings.ToUpper(ids[0])} {
			_, err := e.db.FindTenantByID(e.op, id)
			wantCode(t, err, skjold.ENOTFOUND)
		}
		for _, p := range []skjold.Page{{Limit: -1}, {Limit: skjold.MaxPageLimit + 1}, {After: "x"}} {
			_, err := e.db.FindTenants(e.op, p)
			wantCode(t, err, skjold.EINVALID)
		}
	})

	t.Run("OperatorsOnly", func(t *testing.T) {
		e := newEnv(t, h)
		tn := e.newTenant("Fjord Travel AS")
		for name, ctx := range map[string]context.Context{"tenant": e.as(tn, ""), "none": t.Context()} {
			want := skjold.EFORBIDDEN
			if name == "none" {
				want = skjold.EUNAUTHORIZED
			}
			_, err := e.db.CreateTenant(ctx, &skjold.Tenant{Name: "Sneaky"})
			wantCode(t, err, want)
			_, err = e.db.FindTenantByID(ctx, tn.ID)
			wantCode(t, err, want)
			_, err = e.db.FindTenants(ctx, skjold.Page{})
			wantCode(t, err, want)
			wantCode(t, e.db.DestroyTenantKey(ctx, tn.ID), want)
			_, err = e.db.RewrapTenantKeys(ctx)
			wantCode(t, err, want)
		}
		all, err := e.db.FindTenants(e.op, skjold.Page{})
		must(t, err)
		if len(all) != 1 {
			t.Errorf("%d tenants after refused creations, want 1", len(all))
		}
	})

	t.Run("InvalidName", func(t *testing.T) {
		e := newEnv(t, h)
		for _, name := range []string{"", strings.Repeat("x", 201), "bad\x00name", "bad\x1bname", "\xff\xfe"} {
			_, err := e.db.CreateTenant(e.op, &skjold.Tenant{Name: name})
			wantCode(t, err, skjold.EINVALID)
		}
		all, err := e.db.FindTenants(e.op, skjold.Page{})
		must(t, err)
		if len(all) != 0 {
			t.Errorf("%d tenants after refused creations, want 0", len(all))
		}
		if evs := e.events(0); len(evs) != 0 {
			t.Errorf("refused creations left %d audit events", len(evs))
		}
	})
}

// sameSet reports whether a and b hold the same strings, ignoring order.
func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
