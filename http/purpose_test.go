package http

import (
	"slices"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

func TestPurposeRegister(t *testing.T) {
	e := newEnv(t)
	var list struct{ Items []skjold.Purpose }
	e.do(t, e.a.token, "GET", "/api/v1/purposes", nil).want(t, 200).decode(t, &list)
	names := []string{}
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	for _, want := range []string{"contract", "newsletter", "legal_claims", "accounting"} {
		if !slices.Contains(names, want) {
			t.Errorf("register %v lacks %s", names, want)
		}
	}

	body := map[string]any{"legal_basis": "consent", "notice": "Offers by SMS.", "channels": []string{"sms"},
		"cap": map[string]any{"max": 4, "period": "P1M"}}
	var p skjold.Purpose
	e.do(t, e.a.token, "PUT", "/api/v1/purposes/offers", body).want(t, 201).decode(t, &p)
	if p.Name != "offers" || p.NoticeVersion != 1 || p.Cap == nil || p.Cap.Max != 4 {
		t.Errorf("created %+v", p)
	}
	e.do(t, e.a.token, "PUT", "/api/v1/purposes/offers", body).want(t, 200).decode(t, &p)
	if p.NoticeVersion != 1 {
		t.Errorf("an unchanged notice got version %d", p.NoticeVersion)
	}
	body["notice"] = "Offers by SMS, weekly."
	e.do(t, e.a.token, "PUT", "/api/v1/purposes/offers", body).want(t, 200).decode(t, &p)
	if p.NoticeVersion != 2 {
		t.Errorf("a changed notice got version %d", p.NoticeVersion)
	}

	for _, c := range []struct {
		body  any
		field string
	}{
		{map[string]any{"legal_basis": "whim"}, "legal_basis"},
		{map[string]any{"legal_basis": "consent"}, "notice"},
		{map[string]any{"legal_basis": "contract", "channels": []string{"pigeon"}}, "channels"},
		{map[string]any{"legal_basis": "contract", "cap": map[string]any{"max": 0, "period": "P1Y"}}, "cap"},
		{map[string]any{"legal_basis": "contract", "name": "other"}, "name"},
	} {
		e.unchanged(t, func() {
			if got := e.do(t, e.a.token, "PUT", "/api/v1/purposes/offers", c.body).wantError(t, 400, skjold.EINVALID); got.Field != c.field {
				t.Errorf("%v: field %q, want %q", c.body, got.Field, c.field)
			}
		})
	}
	e.unchanged(t, func() {
		e.do(t, e.a.token, "PUT", "/api/v1/purposes/Bad-Name", map[string]any{"legal_basis": "contract"}).wantError(t, 400, skjold.EINVALID)
	})
	// Changing the register needs the admin scope.
	reader := e.createToken(t, e.a.token, "reader", skjold.ScopeRead, skjold.ScopeWrite)
	e.do(t, reader.Secret, "PUT", "/api/v1/purposes/offers", body).wantError(t, 403, skjold.EFORBIDDEN)
	e.do(t, reader.Secret, "GET", "/api/v1/purposes", nil).want(t, 200)
}

func TestConsentHistory(t *testing.T) {
	e := newEnv(t)
	s := e.createSubject(t, e.a.token, map[string]string{"name": "Anna", "email": "anna@example.com"})
	path := "/api/v1/subjects/" + s.ID + "/consents"
	var c skjold.Consent
	e.do(t, e.a.token, "POST", path, map[string]any{"purpose": "newsletter", "granted": true, "source": "portal"}).want(t, 201).decode(t, &c)
	if !c.Granted || c.Source != "portal" || c.NoticeVersion != 1 || !skjold.ValidID(c.ID) {
		t.Errorf("recorded %+v", c)
	}
	// Reading for the newsletter works while consent is in force, and stops with the withdrawal.
	e.do(t, e.a.token, "GET", "/api/v1/subjects/"+s.ID+"?purpose=newsletter", nil).want(t, 200)
	e.do(t, e.a.token, "POST", path, map[string]any{"purpose": "newsletter", "granted": false}).want(t, 201).decode(t, &c)
	if c.Granted || c.Source != "api" {
		t.Errorf("withdrawal %+v", c)
	}
	e.do(t, e.a.token, "GET", "/api/v1/subjects/"+s.ID+"?purpose=newsletter", nil).wantError(t, 403, skjold.EFORBIDDEN)

	var list struct{ Items []skjold.Consent }
	e.do(t, e.a.token, "GET", path, nil).want(t, 200).decode(t, &list)
	if len(list.Items) != 2 || !list.Items[0].Granted || list.Items[1].Granted || !strings.Contains(list.Items[0].Notice, "newsletter") {
		t.Errorf("history %+v", list.Items)
	}
	for _, c := range []struct {
		body        any
		status      int
		code, field string
	}{
		{map[string]any{"purpose": "newsletter"}, 400, skjold.EINVALID, "granted"},
		{map[string]any{"purpose": "newsletter", "granted": true, "source": "fax"}, 400, skjold.EINVALID, "source"},
		{map[string]any{"purpose": "nothing_like_it", "granted": true}, 404, skjold.ENOTFOUND, ""},
	} {
		e.unchanged(t, func() {
			if got := e.do(t, e.a.token, "POST", path, c.body).wantError(t, c.status, c.code); got.Field != c.field {
				t.Errorf("%v: field %q, want %q", c.body, got.Field, c.field)
			}
		})
	}
}

func TestRestrictionAndObjection(t *testing.T) {
	e := newEnv(t)
	s := e.createSubject(t, e.a.token, map[string]string{"name": "Anna", "email": "anna@example.com"})
	rec := e.createRecord(t, e.a.token, s.ID, map[string]any{"category": "contact", "data": map[string]string{"city": "Oslo"}})
	subject := "/api/v1/subjects/" + s.ID
	e.do(t, e.a.token, "PUT", subject+"/restriction", nil).want(t, 204)
	e.do(t, e.a.token, "GET", subject, nil).wantError(t, 403, skjold.EFORBIDDEN)
	e.do(t, e.a.token, "GET", "/api/v1/records/"+rec.ID, nil).wantError(t, 403, skjold.EFORBIDDEN)
	var got skjold.Subject
	e.do(t, e.a.token, "GET", subject+"?purpose=legal_claims", nil).want(t, 200).decode(t, &got)
	if !got.Restricted || got.Name != "Anna" {
		t.Errorf("read for legal claims: %+v", got)
	}
	e.do(t, e.a.token, "PATCH", subject, map[string]string{"name": "X"}).wantError(t, 409, skjold.ECONFLICT)
	e.do(t, e.a.token, "PATCH", "/api/v1/records/"+rec.ID, map[string]any{"data": map[string]string{"city": "X"}}).wantError(t, 409, skjold.ECONFLICT)
	e.do(t, e.a.token, "DELETE", subject+"/restriction", nil).want(t, 204)
	e.do(t, e.a.token, "PATCH", subject, map[string]string{"name": "Anna B"}).want(t, 200)

	e.do(t, e.a.token, "PUT", subject+"/objection", nil).want(t, 204)
	e.do(t, e.a.token, "GET", subject+"?purpose=customer_service", nil).wantError(t, 403, skjold.EFORBIDDEN)
	e.do(t, e.a.token, "GET", subject+"?purpose=contract", nil).want(t, 200).decode(t, &got)
	if !got.Objected {
		t.Errorf("Objected not set: %+v", got)
	}
	e.do(t, e.a.token, "DELETE", subject+"/objection", nil).want(t, 204)
	e.do(t, e.a.token, "GET", subject+"?purpose=customer_service", nil).want(t, 200)
}

func TestContactCheck(t *testing.T) {
	e := newEnv(t)
	s := e.createSubject(t, e.a.token, map[string]string{"name": "Anna", "email": "anna@example.com"})
	check := map[string]any{"subject_id": s.ID, "purpose": "newsletter", "channel": "email", "record": true}
	var got skjold.ContactCheck
	e.do(t, e.a.token, "POST", "/api/v1/contact-check", check).want(t, 200).decode(t, &got)
	if got.Allowed || !slices.Equal(got.Reasons, []string{"no_consent"}) || got.Sent != 0 {
		t.Errorf("without consent: %+v", got)
	}
	e.do(t, e.a.token, "POST", "/api/v1/subjects/"+s.ID+"/consents", map[string]any{"purpose": "newsletter", "granted": true}).want(t, 201)
	e.do(t, e.a.token, "POST", "/api/v1/contact-check", check).want(t, 200).decode(t, &got)
	if !got.Allowed || len(got.Reasons) != 0 || got.Sent != 1 {
		t.Errorf("with consent: %+v", got)
	}
	for _, c := range []struct {
		body        any
		status      int
		code, field string
	}{
		{map[string]any{"subject_id": s.ID, "purpose": "newsletter", "channel": "pigeon"}, 400, skjold.EINVALID, "channel"},
		{map[string]any{"purpose": "newsletter", "channel": "email"}, 400, skjold.EINVALID, "subject_id"},
		{map[string]any{"subject_id": s.ID, "purpose": "unregistered", "channel": "email"}, 404, skjold.ENOTFOUND, ""},
	} {
		e.unchanged(t, func() {
			if got := e.do(t, e.a.token, "POST", "/api/v1/contact-check", c.body).wantError(t, c.status, c.code); got.Field != c.field {
				t.Errorf("%v: field %q, want %q", c.body, got.Field, c.field)
			}
		})
	}
}
