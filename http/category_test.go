package http

import (
	"slices"
	"testing"

	"github.com/skjold-project/skjold"
)

// newCategory returns a category body with the given fields (name:type pairs).
func newCategory(fields ...string) map[string]any {
	var fs []map[string]any
	for i := 0; i+1 < len(fields); i += 2 {
		fs = append(fs, map[string]any{"name": fields[i], "type": fields[i+1]})
	}
	return map[string]any{"fields": fs, "purposes": []string{"contract"}, "legal_basis": "contract",
		"retention": map[string]string{"period": "P2Y", "from": "created"}}
}

func TestCategories(t *testing.T) {
	e := newEnv(t)
	var list struct{ Items []skjold.Category }
	e.do(t, e.a.token, "GET", "/api/v1/categories", nil).want(t, 200).decode(t, &list)
	var names []string
	for _, c := range list.Items {
		names = append(names, c.Name)
	}
	if len(names) != len(skjold.Templates()) || !slices.IsSorted(names) || !slices.Contains(names, "subject") {
		t.Errorf("categories %v", names)
	}
	var cat skjold.Category
	e.do(t, e.a.token, "GET", "/api/v1/categories/invoice", nil).want(t, 200).decode(t, &cat)
	if cat.Name != "invoice" || cat.Retention.Period != "P5Y" {
		t.Errorf("invoice %+v", cat)
	}
	e.do(t, e.a.token, "GET", "/api/v1/categories/no_such", nil).wantError(t, 404, skjold.ENOTFOUND)
	e.do(t, e.a.token, "GET", "/api/v1/categories/Invoice", nil).wantError(t, 404, skjold.ENOTFOUND)

	e.do(t, e.a.token, "PUT", "/api/v1/categories/loyalty", newCategory("points", "integer")).want(t, 201)
	e.do(t, e.a.token, "PUT", "/api/v1/categories/loyalty", newCategory("points", "integer", "level", "string")).want(t, 200)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna"})
	e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "loyalty", "data": map[string]any{"points": 12}})

	named := newCategory("points", "integer")
	named["name"] = "other"
	subject := map[string]any{}
	for k, v := range newCategory("ref", "string") {
		subject[k] = v
	}
	for _, c := range []struct {
		name        string
		path        string
		body        any
		status      int
		code        string
		field, rule string
	}{
		{"name differs from the path", "loyalty", named, 400, skjold.EINVALID, "name", "mismatch"},
		{"name not valid", "Loyalty-2", newCategory("points", "integer"), 400, skjold.EINVALID, "name", "name"},
		{"no fields", "empty", newCategory(), 400, skjold.EINVALID, "fields", "length"},
		{"unknown field type", "odd", newCategory("x", "colour"), 400, skjold.EINVALID, "fields", "type"},
		{"field twice", "twice", newCategory("x", "string", "x", "string"), 400, skjold.EINVALID, "fields", "duplicate"},
		{"retype a field with records", "loyalty", newCategory("points", "string", "level", "string"), 409, skjold.ECONFLICT, "", ""},
		{"remove a field with records", "loyalty", newCategory("level", "string"), 409, skjold.ECONFLICT, "", ""},
		{"change the subject category's fields", "subject", subject, 400, skjold.EINVALID, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.unchanged(t, func() {
				got := e.do(t, e.a.token, "PUT", "/api/v1/categories/"+c.path, c.body).wantError(t, c.status, c.code)
				if c.field != "" {
					wantRefusal(t, got, c.field, c.rule)
				}
			})
		})
	}
	bad := newCategory("x", "string")
	bad["legal_basis"] = "because"
	e.do(t, e.a.token, "PUT", "/api/v1/categories/bad", bad).wantError(t, 400, skjold.EINVALID)
	bad = newCategory("x", "string")
	bad["retention"] = map[string]string{"period": "5 years", "from": "created"}
	e.do(t, e.a.token, "PUT", "/api/v1/categories/bad", bad).wantError(t, 400, skjold.EINVALID)
	bad["retention"] = map[string]string{"period": "P5Y", "from": "field:x"}
	e.do(t, e.a.token, "PUT", "/api/v1/categories/bad", bad).wantError(t, 400, skjold.EINVALID)
}
