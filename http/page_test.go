package http

import (
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// TestListsRefuseBadPages sends every list route limits out of range and cursors of the wrong
// shape: each is refused with 400 naming the parameter, and changes nothing.
func TestListsRefuseBadPages(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna"})
	lists := []struct{ path, token, badAfter string }{
		{"/api/v1/tenants", e.operator, "not-an-id"},
		{"/api/v1/tokens", e.a.token, "not-an-id"},
		{"/api/v1/subjects", e.a.token, "not-an-id"},
		{"/api/v1/subjects/" + sub.ID + "/records", e.a.token, "not-an-id"},
		{"/api/v1/audit", e.a.token, "-1"},
		{"/api/v1/audit", e.a.token, "seven"},
	}
	for _, l := range lists {
		for _, q := range []string{"limit=-1", "limit=501", "limit=1000000000000000000000", "limit=ten", "limit=1.5", "limit=", "after=" + l.badAfter} {
			if q == "limit=" {
				e.do(t, l.token, "GET", l.path+"?"+q, nil).want(t, 200) // empty means the default
				continue
			}
			e.unchanged(t, func() {
				r := e.do(t, l.token, "GET", l.path+"?"+q, nil)
				got := r.wantError(t, 400, skjold.EINVALID)
				if name, _, _ := strings.Cut(q, "="); got.Field != "" && got.Field != name {
					t.Errorf("GET %s?%s: error names %q", l.path, q, got.Field)
				}
			})
		}
		for _, q := range []string{"limit=1", "limit=500"} {
			e.do(t, l.token, "GET", l.path+"?"+q, nil).want(t, 200)
		}
	}
}

// TestListsPage checks that a full page carries the cursor of the next one, and that
// following the cursors returns every item once.
func TestListsPage(t *testing.T) {
	e := newEnv(t)
	ids := map[string]bool{}
	for range 5 {
		ids[e.createSubject(t, e.a.token, map[string]string{"name": "Anna"}).ID] = true
	}
	after, pages := "", 0
	for {
		var page struct {
			Items []struct{ ID string }
			Next  string
		}
		e.do(t, e.a.token, "GET", "/api/v1/subjects?limit=2&after="+after, nil).want(t, 200).decode(t, &page)
		pages++
		for _, s := range page.Items {
			if !ids[s.ID] {
				t.Errorf("page %d: subject %s twice or unknown", pages, s.ID)
			}
			delete(ids, s.ID)
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if len(ids) != 0 || pages != 3 {
		t.Errorf("%d pages left out %d subjects", pages, len(ids))
	}
}
