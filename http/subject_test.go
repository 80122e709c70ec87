package http

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// digitRun matches what a refusal of the input guard must never quote: part of the number.
var digitRun = regexp.MustCompile(`[0-9]{4}`)

// wantRefusal checks that a refusal names the field and the rule, and that a refusal by the
// input guard holds no part of the refused number.
func wantRefusal(t *testing.T, got errorDetail, field, rule string) {
	t.Helper()
	if got.Field != field || got.Rule != rule {
		t.Errorf("error %+v, want field %q rule %q", got, field, rule)
	}
	if slices.Contains(skjold.SensitiveKinds(), rule) && digitRun.MatchString(got.Message) {
		t.Errorf("error message %q quotes digits of the value", got.Message)
	}
}

func TestSubjectCreateRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	adult := e.createSubject(t, e.a.token, map[string]string{"name": "Adult", "birth_date": "1970-01-01"})
	minor := e.createSubject(t, e.a.token, map[string]string{"name": "Minor", "birth_date": "2020-01-01", "guardian_id": adult.ID})
	unknownAge := e.createSubject(t, e.a.token, map[string]string{"name": "Unknown age"})
	cases := []struct {
		name        string
		body        map[string]string
		field, rule string
	}{
		{"card number", map[string]string{"name": "Card 4111 1111 1111 1111"}, "name", skjold.KindCardNumber},
		{"card number in ref", map[string]string{"ref": "4111-1111-1111-1111"}, "ref", skjold.KindCardNumber},
		{"PESEL", map[string]string{"name": "Jan", "ref": "PESEL 44051401359"}, "ref", skjold.KindPESEL},
		{"minor without guardian", map[string]string{"name": "Child", "birth_date": "2018-06-01"}, "guardian_id", "guardian"},
		{"minor with a minor guardian", map[string]string{"name": "Child", "birth_date": "2018-06-01", "guardian_id": minor.ID}, "guardian_id", "guardian"},
		{"minor with a guardian of unknown age", map[string]string{"name": "Child", "birth_date": "2018-06-01", "guardian_id": unknownAge.ID}, "guardian_id", "guardian"},
		{"minor with an unknown guardian", map[string]string{"name": "Child", "birth_date": "2018-06-01", "guardian_id": "00000000-0000-7000-8000-000000000000"}, "guardian_id", "guardian"},
		{"guardian id of the wrong shape", map[string]string{"name": "Child", "guardian_id": "nobody"}, "guardian_id", "id"},
		{"bad e-mail", map[string]string{"email": "anna.example.com"}, "email", "email"},
		{"bad phone", map[string]string{"phone": "call me"}, "phone", "phone"},
		{"bad birth date", map[string]string{"birth_date": "17.05.1980"}, "birth_date", "date"},
		{"impossible birth date", map[string]string{"birth_date": "1980-02-30"}, "birth_date", "date"},
		{"control character", map[string]string{"name": "An\x00na"}, "name", "control"},
		{"too long", map[string]string{"name": string(bytes.Repeat([]byte("x"), skjold.MaxTextLength+1))}, "name", "length"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.unchanged(t, func() {
				got := e.do(t, e.a.token, "POST", "/api/v1/subjects", c.body).wantError(t, 400, skjold.EINVALID)
				wantRefusal(t, got, c.field, c.rule)
			})
		})
	}
	t.Run("purpose not a valid name", func(t *testing.T) {
		for _, p := range []string{"Credit_Check", "credit-check", "1st", "a%20b", "%C3%A6"} {
			e.unchanged(t, func() {
				got := e.do(t, e.a.token, "POST", "/api/v1/subjects?purpose="+p, map[string]string{"name": "Anna"}).wantError(t, 400, skjold.EINVALID)
				if got.Field != "purpose" {
					t.Errorf("purpose %q: error %+v does not name purpose", p, got)
				}
			})
		}
		h := http.Header{"Authorization": {"Bearer " + e.a.token}, "Skjold-Purpose": {"Not Valid"}}
		e.send(t, "GET", "/api/v1/subjects/"+adult.ID, h, nil).wantError(t, 400, skjold.EINVALID)
	})
	t.Run("allowed by the category", func(t *testing.T) {
		var cat skjold.Category
		e.do(t, e.a.token, "GET", "/api/v1/categories/subject", nil).want(t, 200).decode(t, &cat)
		cat.Field("ref").Allow = []string{skjold.KindPESEL}
		e.do(t, e.a.token, "PUT", "/api/v1/categories/subject", map[string]any{"fields": cat.Fields, "purposes": cat.Purposes,
			"legal_basis": cat.LegalBasis, "retention": cat.Retention}).want(t, 200)
		e.createSubject(t, e.a.token, map[string]string{"ref": "44051401359"})
	})
}

// TestSubjectDuplicateRef checks that a second subject with the same ref is refused as a
// conflict (409), by create and by update, and changes nothing.
func TestSubjectDuplicateRef(t *testing.T) {
	e := newEnv(t)
	e.createSubject(t, e.a.token, map[string]string{"name": "Anna", "ref": "K-1"})
	other := e.createSubject(t, e.a.token, map[string]string{"name": "Bo", "ref": "K-2"})
	e.unchanged(t, func() {
		r := e.do(t, e.a.token, "POST", "/api/v1/subjects", map[string]string{"name": "Anna again", "ref": "K-1"})
		wantConflict(t, r)
	})
	e.unchanged(t, func() {
		r := e.do(t, e.a.token, "PATCH", "/api/v1/subjects/"+other.ID, map[string]string{"ref": "K-1"})
		wantConflict(t, r)
	})
	// Refs are per tenant.
	e.createSubject(t, e.b.token, map[string]string{"name": "Anna in B", "ref": "K-1"})
}

// wantConflict checks that a duplicate ref is refused as a conflict that names the field but
// not the value.
func wantConflict(t *testing.T, r *reply) {
	t.Helper()
	got := r.wantError(t, 409, skjold.ECONFLICT)
	if got.Field != "ref" || bytes.Contains(r.body, []byte("K-1")) {
		t.Errorf("conflict %+v quotes the ref", got)
	}
}

// TestSubjectPurposeBoundFields checks that birth_date, bound to credit_check and
// debt_collection, is withheld from requests that state neither, and that the audit records
// the purpose and the fields read.
func TestSubjectPurposeBoundFields(t *testing.T) {
	e := newEnv(t)
	created := e.createSubject(t, e.a.token, map[string]string{"name": "Anna", "birth_date": "1980-05-17"})
	if created.BirthDate != "" || !slices.Equal(created.Withheld, []string{"birth_date"}) {
		t.Errorf("create answered birth_date %q withheld %v without a purpose", created.BirthDate, created.Withheld)
	}
	path := "/api/v1/subjects/" + created.ID
	read := func(query string, header http.Header) skjold.Subject {
		t.Helper()
		h := http.Header{"Authorization": {"Bearer " + e.a.token}}
		for k, v := range header {
			h[k] = v
		}
		var s skjold.Subject
		e.send(t, "GET", path+query, h, nil).want(t, 200).decode(t, &s)
		return s
	}
	for _, c := range []struct {
		query   string
		header  http.Header
		visible bool
	}{
		{"", nil, false},
		{"?purpose=credit_check", nil, true},
		{"?purpose=debt_collection", nil, true},
		{"", http.Header{"Skjold-Purpose": {"credit_check"}}, true},
		{"?purpose=contract", http.Header{"Skjold-Purpose": {"credit_check"}}, false}, // ?purpose= wins
	} {
		s := read(c.query, c.header)
		if c.visible && (s.BirthDate != "1980-05-17" || len(s.Withheld) != 0) {
			t.Errorf("%s %v: birth_date %q withheld %v, want it returned", c.query, c.header, s.BirthDate, s.Withheld)
		}
		if !c.visible && (s.BirthDate != "" || !slices.Equal(s.Withheld, []string{"birth_date"})) {
			t.Errorf("%s %v: birth_date %q withheld %v, want it withheld", c.query, c.header, s.BirthDate, s.Withheld)
		}
		if s.Name != "Anna" {
			t.Errorf("%s: name %q", c.query, s.Name)
		}
	}
	var list struct{ Items []skjold.Subject }
	e.do(t, e.a.token, "GET", "/api/v1/subjects", nil).want(t, 200).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].BirthDate != "" {
		t.Errorf("the list returned birth_date without a purpose: %+v", list.Items)
	}

	reads := []*skjold.AuditEvent{}
	for _, ev := range e.auditEvents(t, e.a.token, "&subject_id="+created.ID) {
		if ev.Action == "subject.read" {
			reads = append(reads, ev)
		}
	}
	if len(reads) != 6 {
		t.Fatalf("%d subject.read events, want 6", len(reads))
	}
	for i, want := range []struct {
		purpose   string
		birthDate bool
	}{{"", false}, {"credit_check", true}, {"debt_collection", true}, {"credit_check", true}, {"contract", false}, {"", false}} {
		ev := reads[i]
		if ev.Purpose != want.purpose || slices.Contains(ev.Fields, "birth_date") != want.birthDate || !slices.Contains(ev.Fields, "name") {
			t.Errorf("read %d: audit event purpose %q fields %v, want purpose %q, birth_date read %v", i, ev.Purpose, ev.Fields, want.purpose, want.birthDate)
		}
	}
}

func TestSubjectUpdateAndDelete(t *testing.T) {
	e := newEnv(t)
	adult := e.createSubject(t, e.a.token, map[string]string{"name": "Adult", "email": "adult@example.com", "birth_date": "1970-01-01"})
	minor := e.createSubject(t, e.a.token, map[string]string{"name": "Minor", "birth_date": "2020-01-01", "guardian_id": adult.ID})

	var s skjold.Subject
	e.do(t, e.a.token, "PATCH", "/api/v1/subjects/"+adult.ID+"?purpose=credit_check", `{"name":"Adult Two","email":null}`).want(t, 200).decode(t, &s)
	if s.Name != "Adult Two" || s.Email != "" || s.BirthDate != "1970-01-01" {
		t.Errorf("after update: %+v", s)
	}
	e.unchanged(t, func() {
		got := e.do(t, e.a.token, "PATCH", "/api/v1/subjects/"+adult.ID, `{"birth_date":null}`).wantError(t, 400, skjold.EINVALID)
		wantRefusal(t, got, "birth_date", "guardian") // a guardian must stay a known adult
	})
	e.unchanged(t, func() {
		got := e.do(t, e.a.token, "PATCH", "/api/v1/subjects/"+adult.ID, `{"name":"4111 1111 1111 1111"}`).wantError(t, 400, skjold.EINVALID)
		wantRefusal(t, got, "name", skjold.KindCardNumber)
	})
	e.unchanged(t, func() {
		e.do(t, e.a.token, "DELETE", "/api/v1/subjects/"+adult.ID, nil).wantError(t, 409, skjold.ECONFLICT)
	})
	e.do(t, e.a.token, "DELETE", "/api/v1/subjects/"+minor.ID, nil).want(t, 200)
	e.do(t, e.a.token, "DELETE", "/api/v1/subjects/"+adult.ID, nil).want(t, 200)
	e.do(t, e.a.token, "GET", "/api/v1/subjects/"+adult.ID, nil).wantError(t, 404, skjold.ENOTFOUND)
	e.do(t, e.a.token, "DELETE", "/api/v1/subjects/"+adult.ID, nil).wantError(t, 404, skjold.ENOTFOUND)
}

func TestSubjectLookup(t *testing.T) {
	e := newEnv(t)
	anna := e.createSubject(t, e.a.token, map[string]string{"name": "Anna", "email": "Anna@Example.com", "phone": "+47 912 34 567", "ref": "K-1"})
	e.createSubject(t, e.a.token, map[string]string{"name": "Bo", "email": "bo@example.com"})
	for _, q := range []string{"email=anna@example.com", "email=%20ANNA@example.COM%20", "phone=004791234567", "ref=K-1"} {
		var list struct{ Items []skjold.Subject }
		e.do(t, e.a.token, "GET", "/api/v1/subjects?"+q, nil).want(t, 200).decode(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != anna.ID {
			t.Errorf("?%s found %+v", q, list.Items)
		}
	}
	e.do(t, e.a.token, "GET", "/api/v1/subjects?email=a@example.com&ref=K-1", nil).wantError(t, 400, skjold.EINVALID)
	if n := e.count(t, e.a.token, "/api/v1/subjects?email=nobody@example.com"); n != 0 {
		t.Errorf("an unknown e-mail found %d subjects", n)
	}
}

// FuzzSubjectCreate posts arbitrary bodies to subject creation through the real handler and
// store: no body gives a 5xx, and every refusal is a JSON error whose code gives its status.
func FuzzSubjectCreate(f *testing.F) {
	h, token := newFuzzServer(f)
	for _, s := range jsonSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/api/v1/subjects", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("POST %q: %d %s", body, w.Code, w.Body)
		}
		if w.Code == 201 {
			var s skjold.Subject
			if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil || !skjold.ValidID(s.ID) {
				t.Fatalf("POST %q: 201 %s", body, w.Body)
			}
			return
		}
		var e errorBody
		dec := json.NewDecoder(w.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil || e.Error.Message == "" || statuses[e.Error.Code] != w.Code {
			t.Fatalf("POST %q: %d with error body %q (%v)", body, w.Code, w.Body, err)
		}
		if slices.Contains(skjold.SensitiveKinds(), e.Error.Rule) && digitRun.MatchString(e.Error.Message) {
			t.Fatalf("POST %q: refusal %q quotes digits of the value", body, e.Error.Message)
		}
	})
}

// newFuzzServer returns the API handler on a fresh store, and a token of a tenant in it.
func newFuzzServer(f *testing.F) (http.Handler, string) {
	dir := f.TempDir()
	ring, err := keys.CreateKeyring(filepath.Join(dir, "master.key"))
	if err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(context.Background(), filepath.Join(dir, "skjold.db"), store.Options{Keys: keys.NewService(ring), Logger: log})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	tok, err := db.CreateTenant(operatorContext(), &skjold.Tenant{Name: "Fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	svc := Services{Tenants: db, Tokens: db, Subjects: db, Records: db, Categories: db, Audit: db, Retention: db, Purposes: db,
		Health: db.Ping}
	return NewServer(svc, log, NewMetrics("test", db.AuditLength), "sqlite", "test"), tok.Secret
}
