package storetest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// loyalty is a category that no template defines.
func loyalty() *skjold.Category {
	return &skjold.Category{
		Name: "loyalty", Description: "Loyalty programme membership.",
		Fields: []skjold.Field{
			{Name: "member_number", Type: skjold.TypeString, Required: true},
			{Name: "joined", Type: skjold.TypeDate},
			{Name: "points", Type: skjold.TypeInteger},
		},
		Purposes: []string{"marketing"}, LegalBasis: skjold.BasisConsent,
		Retention: skjold.Retention{Period: "P2Y", From: skjold.RetentionFromRelationship},
	}
}

// TestCategories checks the skjold.CategoryService: the built-in categories, creating and
// replacing categories, and the changes refused while records depend on a definition.
func TestCategories(t *testing.T, h Harness) {
	t.Run("List", func(t *testing.T) {
		e := newEnv(t, h)
		cats, err := e.db.FindCategories(e.as(e.newTenant("Tenant A"), ""))
		must(t, err)
		var got, want []string
		for _, c := range cats {
			got = append(got, c.Name)
		}
		for _, c := range skjold.Templates() {
			want = append(want, c.Name)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("FindCategories = %v, want %v in name order", got, want)
		}
	})

	t.Run("Get", func(t *testing.T) {
		e := newEnv(t, h)
		ctx := e.as(e.newTenant("Tenant A"), "")
		for _, want := range skjold.Templates() {
			got, err := e.db.FindCategory(ctx, want.Name)
			must(t, err)
			want.UpdatedAt = epoch
			if a, b := mustJSON(t, got), mustJSON(t, want); a != b {
				t.Errorf("FindCategory(%s) =\n%s\nwant\n%s", want.Name, a, b)
			}
		}
		for _, name := range []string{"loyalty", "Invoice", "", "in voice", "../invoice"} {
			_, err := e.db.FindCategory(ctx, name)
			wantCode(t, err, skjold.ENOTFOUND)
		}
	})

	t.Run("PutCreateReplace", func(t *testing.T) {
		e := newEnv(t, h)
		ctx := e.as(e.newTenant("Tenant A"), "")
		created, err := e.db.PutCategory(ctx, loyalty())
		must(t, err)
		if !created {
			t.Error("PutCategory of a new category reported created = false")
		}
		got, err := e.db.FindCategory(ctx, "loyalty")
		must(t, err)
		want := loyalty()
		want.UpdatedAt = epoch
		if a, b := mustJSON(t, got), mustJSON(t, want); a != b {
			t.Errorf("stored category =\n%s\nwant\n%s", a, b)
		}

		e.clock.Add(time.Hour)
		next := loyalty()
		next.Description = "Changed."
		next.Fields = append(next.Fields, skjold.Field{Name: "tier", Type: skjold.TypeString})
		created, err = e.db.PutCategory(ctx, next)
		must(t, err)
		if created {
			t.Error("PutCategory of an existing category reported created = true")
		}
		got, err = e.db.FindCategory(ctx, "loyalty")
		must(t, err)
		if got.Description != "Changed." || got.Field("tier") == nil || !got.UpdatedAt.Equal(epoch.Add(time.Hour)) {
			t.Errorf("replaced category = %+v", got)
		}
		cats, err := e.db.FindCategories(ctx)
		must(t, err)
		if len(cats) != len(skjold.Templates())+1 {
			t.Errorf("%d categories, want the templates and loyalty", len(cats))
		}
		s := e.newSubject(ctx, &skjold.Subject{Ref: "L-1"})
		e.newRecord(ctx, s.ID, "loyalty", map[string]any{"member_number": "M-1", "tier": "gold"})
	})

	t.Run("Validate", func(t *testing.T) {
		e := newEnv(t, h)
		ctx := e.as(e.newTenant("Tenant A"), "")
		for name, change := range map[string]func(c *skjold.Category){
			"name":           func(c *skjold.Category) { c.Name = "Loyalty" },
			"no fields":      func(c *skjold.Category) { c.Fields = nil },
			"field type":     func(c *skjold.Category) { c.Fields[1].Type = "blob" },
			"field name":     func(c *skjold.Category) { c.Fields[1].Name = "Joined" },
			"duplicate":      func(c *skjold.Category) { c.Fields[1].Name = "member_number" },
			"allow":          func(c *skjold.Category) { c.Fields[0].Allow = []string{"ssn"} },
			"no purposes":    func(c *skjold.Category) { c.Purposes = nil },
			"purpose name":   func(c *skjold.Category) { c.Purposes = []string{"Marketing!"} },
			"legal basis":    func(c *skjold.Category) { c.LegalBasis = "because" },
			"period":         func(c *skjold.Category) { c.Retention.Period = "5 years" },
			"from":           func(c *skjold.Category) { c.Retention.From = "forever" },
			"from not date":  func(c *skjold.Category) { c.Retention.From = "field:points" },
			"from no field":  func(c *skjold.Category) { c.Retention.From = "field:left" },
			"description":    func(c *skjold.Category) { c.Description = strings.Repeat("d", 1001) },
			"field purposes": func(c *skjold.Category) { c.Fields[2].Purposes = []string{""} },
		} {
			c := loyalty()
			change(c)
			if _, err := e.db.PutCategory(ctx, c); skjold.ErrorCode(err) != skjold.EINVALID {
				t.Errorf("%s: PutCategory error = %v, want %s", name, err, skjold.EINVALID)
			}
		}
		_, err := e.db.FindCategory(ctx, "loyalty")
		wantCode(t, err, skjold.ENOTFOUND)
	})

	t.Run("FieldChangesWithRecords", func(t *testing.T) {
		e := newEnv(t, h)
		ctx := e.as(e.newTenant("Tenant A"), "")
		_, err := e.db.PutCategory(ctx, loyalty())
		must(t, err)
		s := e.newSubject(ctx, &skjold.Subject{Ref: "L-1"})
		r := e.newRecord(ctx, s.ID, "loyalty", map[string]any{"member_number": "M-1", "points": 10.0})

		removed := loyalty()
		removed.Fields = removed.Fields[:2]
		_, err = e.db.PutCategory(ctx, removed)
		wantCode(t, err, skjold.ECONFLICT)
		retyped := loyalty()
		retyped.Fields[2].Type = skjold.TypeString
		_, err = e.db.PutCategory(ctx, retyped)
		wantCode(t, err, skjold.ECONFLICT)
		got, err := e.db.FindCategory(ctx, "loyalty")
		must(t, err)
		if len(got.Fields) != 3 || got.Field("points").Type != skjold.TypeInteger {
			t.Errorf("a refused change was stored: %+v", got.Fields)
		}

		added := loyalty()
		added.Fields = append(added.Fields, skjold.Field{Name: "tier", Type: skjold.TypeString})
		added.Fields[1].Purposes = []string{"marketing"}
		_, err = e.db.PutCategory(ctx, added)
		must(t, err)

		// Once the records are gone, the field may go too.
		must(t, e.db.DeleteRecord(ctx, r.ID))
		_, err = e.db.PutCategory(ctx, removed)
		must(t, err)
	})

	t.Run("FieldChangesWithoutRecords", func(t *testing.T) {
		e := newEnv(t, h)
		a, b := e.newTenant("Tenant A"), e.newTenant("Tenant B")
		ctxA, ctxB := e.as(a, ""), e.as(b, "")
		// Records of another tenant's category of the same name do not count.
		s := e.newSubject(ctxB, &skjold.Subject{Ref: "B-1"})
		e.newRecord(ctxB, s.ID, "invoice", map[string]any{"invoice_number": "1", "invoice_date": "2025-01-02", "amount": 10.0})

		inv, err := e.db.FindCategory(ctxA, "invoice")
		must(t, err)
		inv.Fields = slices.DeleteFunc(inv.Fields, func(f skjold.Field) bool { return f.Name == "vat_id" })
		inv.Field("amount").Type = skjold.TypeString
		_, err = e.db.PutCategory(ctxA, inv)
		must(t, err)
		got, err := e.db.FindCategory(ctxA, "invoice")
		must(t, err)
		if got.Field("vat_id") != nil || got.Field("amount").Type != skjold.TypeString {
			t.Errorf("change not stored: %+v", got.Fields)
		}
		other, err := e.db.FindCategory(ctxB, "invoice")
		must(t, err)
		if other.Field("vat_id") == nil || other.Field("amount").Type != skjold.TypeNumber {
			t.Errorf("tenant A's change reached tenant B: %+v", other.Fields)
		}
	})

	t.Run("SubjectFieldsFixed", func(t *testing.T) {
		e := newEnv(t, h)
		ctx := e.as(e.newTenant("Tenant A"), "")
		base := func() *skjold.Category {
			c, err := e.db.FindCategory(ctx, skjold.SubjectCategory)
			must(t, err)
			return c
		}
		for name, change := range map[string]func(c *skjold.Category){
			"remove": func(c *skjold.Category) { c.Fields = c.Fields[:len(c.Fields)-1] },
			"add": func(c *skjold.Category) {
				c.Fields = append(c.Fields, skjold.Field{Name: "nickname", Type: skjold.TypeString})
			},
			"retype": func(c *skjold.Category) { c.Field(skjold.FieldEmail).Type = skjold.TypeString },
			"rename": func(c *skjold.Category) { c.Field(skjold.FieldName).Name = "full_name" },
		} {
			c := base()
			change(c)
			if _, err := e.db.PutCategory(ctx, c); skjold.ErrorCode(err) != skjold.EINVALID {
				t.Errorf("%s a subject field: error = %v, want %s", name, err, skjold.EINVALID)
			}
		}

		// Purposes, allowances and descriptions may change, and take effect at once.
		s := e.newSubject(ctx, &skjold.Subject{Name: "Anna Berg", BirthDate: "1980-04-02"})
		c := base()
		c.Field(skjold.FieldBirthDate).Purposes = nil
		c.Field(skjold.FieldName).Description = "Full name."
		created, err := e.db.PutCategory(ctx, c)
		must(t, err)
		if created {
			t.Error("PutCategory(subject) reported created = true")
		}
		got, err := e.db.FindSubjectByID(ctx, s.ID)
		must(t, err)
		if got.BirthDate != "1980-04-02" || len(got.Withheld) != 0 {
			t.Errorf("birth_date is no longer purpose-bound, yet got %q withheld %v", got.BirthDate, got.Withheld)
		}
	})

	t.Run("Callers", func(t *testing.T) {
		e := newEnv(t, h)
		a, b := e.newTenant("Tenant A"), e.newTenant("Tenant B")
		_, err := e.db.PutCategory(e.as(a, ""), loyalty())
		must(t, err)
		_, err = e.db.FindCategory(e.as(b, ""), "loyalty")
		wantCode(t, err, skjold.ENOTFOUND)
		_, err = e.db.FindCategories(e.op)
		wantCode(t, err, skjold.EFORBIDDEN)
		_, err = e.db.FindCategory(e.op, "invoice")
		wantCode(t, err, skjold.EFORBIDDEN)
		_, err = e.db.PutCategory(e.op, loyalty())
		wantCode(t, err, skjold.EFORBIDDEN)
		_, err = e.db.FindCategories(t.Context())
		wantCode(t, err, skjold.EUNAUTHORIZED)
		_, err = e.db.PutCategory(t.Context(), loyalty())
		wantCode(t, err, skjold.EUNAUTHORIZED)
	})
}

// mustJSON returns v encoded as JSON.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return string(b)
}
