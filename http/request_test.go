package http

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"mime/quotedprintable"
	netmail "net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// requestSubjects numbers the subjects the request tests make, so that each has an e-mail
// address of its own and its mail can be told apart in the shared outbox.
var requestSubjects atomic.Int64

// requestSubject creates a subject of token's tenant with an e-mail address of its own.
func (e *env) requestSubject(t *testing.T, token string) *skjold.Subject {
	t.Helper()
	n := requestSubjects.Add(1)
	return e.createSubject(t, token, map[string]string{"name": "Rita Rask", "email": fmt.Sprintf("rita-%d@example.com", n)})
}

// openRequest opens a request of type typ about s through the API.
func (e *env) openRequest(t *testing.T, token string, s *skjold.Subject, typ, purpose string) *skjold.Request {
	t.Helper()
	body := map[string]string{"type": typ, "email": s.Email}
	if purpose != "" {
		body["purpose"] = purpose
	}
	var r skjold.Request
	e.do(t, token, "POST", "/api/v1/requests", body).want(t, 201).decode(t, &r)
	return &r
}

// mailTo waits for an e-mail to addr in the outbox, removes it and returns its body.
func (e *env) mailTo(t testing.TB, addr string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(e.outbox, "*.eml"))
		for _, name := range files {
			raw, err := os.ReadFile(name)
			if err != nil {
				continue
			}
			msg, err := netmail.ReadMessage(bytes.NewReader(raw))
			if err != nil || msg.Header.Get("To") != addr {
				continue
			}
			body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			os.Remove(name)
			return string(body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no e-mail to %s within 10 s", addr)
	return ""
}

var codeInMail = regexp.MustCompile(`(?m)^\d{8}\r?$`)

// requestCode waits for the code e-mail to addr and returns the code.
func (e *env) requestCode(t testing.TB, addr string) string {
	t.Helper()
	body := e.mailTo(t, addr)
	code := strings.TrimSpace(codeInMail.FindString(body))
	if code == "" {
		t.Fatalf("no code in %q", body)
	}
	return code
}

// verifiedRequest opens a request for a fresh subject of token's tenant and verifies it with
// the code from the e-mail, as the requester would.
func (e *env) verifiedRequest(t *testing.T, token, typ, purpose string) (*skjold.Request, *skjold.Subject) {
	t.Helper()
	s := e.requestSubject(t, token)
	r := e.openRequest(t, token, s, typ, purpose)
	e.do(t, "", "POST", "/api/v1/requests/"+r.ID+"/verify", map[string]string{"code": e.requestCode(t, s.Email)}).want(t, 200)
	return r, s
}

// monthsAfter is t n calendar months on, the last day of the month where it has no such day.
func monthsAfter(t time.Time, n int) time.Time {
	d := t.AddDate(0, n, 0)
	if d.Day() != t.Day() {
		d = d.AddDate(0, 0, -d.Day())
	}
	return d
}

// wrongCode returns an 8-digit code that is not code.
func wrongCode(code string) string {
	if code == "00000000" {
		return "00000001"
	}
	return "00000000"
}

// TestRequestAccessEndToEnd walks an access request through the API: opened by e-mail
// address, refused completion before verification, a wrong code, verification with the code
// from the e-mail, completion, the link e-mailed to the subject, a single download of a ZIP
// holding data.json, and 404 for the link afterwards.
func TestRequestAccessEndToEnd(t *testing.T) {
	e := newEnv(t)
	s := e.requestSubject(t, e.a.token)
	e.createRecord(t, e.a.token, s.ID, map[string]any{"category": "contact", "data": map[string]string{"city": "Molde"}})
	r := e.openRequest(t, e.a.token, s, skjold.RequestAccess, "")
	if r.Status != skjold.StatusAwaitingVerification || r.SubjectID != s.ID || !r.DueAt.Equal(monthsAfter(r.ReceivedAt, 1)) {
		t.Fatalf("opened request = %+v", r)
	}
	code := e.requestCode(t, s.Email)
	got := e.do(t, e.a.token, "POST", "/api/v1/requests/"+r.ID+"/complete", map[string]any{}).wantError(t, 409, skjold.ECONFLICT)
	if !strings.Contains(got.Message, "identity not verified") {
		t.Fatalf("completion before verification: %+v", got)
	}
	e.do(t, "", "POST", "/api/v1/requests/"+r.ID+"/verify", map[string]string{"code": wrongCode(code)}).wantError(t, 400, skjold.EINVALID)
	var v struct{ ID, Status string }
	e.do(t, "", "POST", "/api/v1/requests/"+r.ID+"/verify", map[string]string{"code": code}).want(t, 200).decode(t, &v)
	if v.ID != r.ID || v.Status != skjold.StatusInProgress {
		t.Fatalf("verify answer = %+v", v)
	}

	var done skjold.Request
	e.do(t, e.a.token, "POST", "/api/v1/requests/"+r.ID+"/complete", map[string]any{}).want(t, 200).decode(t, &done)
	link := done.Result.DownloadURL
	if done.Status != skjold.StatusCompleted || !strings.HasPrefix(link, "https://skjold.test/api/v1/downloads/") || done.Result.ExpiresAt == nil {
		t.Fatalf("completed request = %+v", done)
	}
	if mail := e.mailTo(t, s.Email); !strings.Contains(mail, link) || strings.Contains(mail, "Rita") {
		t.Fatalf("link e-mail = %q", mail)
	}
	var stored skjold.Request
	e.do(t, e.a.token, "GET", "/api/v1/requests/"+r.ID, nil).want(t, 200).decode(t, &stored)
	if stored.Result == nil || stored.Result.DownloadURL != "" {
		t.Fatalf("stored request = %+v, want a result without the link", stored)
	}

	path := strings.TrimPrefix(link, "https://skjold.test")
	dl := e.do(t, "", "GET", path, nil).want(t, 200)
	if dl.header.Get("Content-Type") != "application/zip" || dl.header.Get("Cache-Control") != "no-store" ||
		dl.header.Get("Content-Disposition") != `attachment; filename="skjold-access-`+r.ID+`.zip"` {
		t.Fatalf("download headers = %v", dl.header)
	}
	zr, err := zip.NewReader(bytes.NewReader(dl.body), int64(len(dl.body)))
	if err != nil {
		t.Fatalf("the download is no ZIP: %v", err)
	}
	var data []byte
	for _, f := range zr.File {
		if f.Name == "data.json" {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			data, _ = io.ReadAll(rc)
			rc.Close()
		}
	}
	if !bytes.Contains(data, []byte(s.ID)) || !bytes.Contains(data, []byte("Molde")) {
		t.Fatalf("data.json = %.500s", data)
	}
	e.do(t, "", "GET", path, nil).wantError(t, 404, skjold.ENOTFOUND)
}

// TestRequestPortabilityEndToEnd checks a portability request and that its link expires.
func TestRequestPortabilityEndToEnd(t *testing.T) {
	e := newEnv(t)
	r, _ := e.verifiedRequest(t, e.a.token, skjold.RequestPortability, "")
	var done skjold.Request
	e.do(t, e.a.token, "POST", "/api/v1/requests/"+r.ID+"/complete", map[string]any{}).want(t, 200).decode(t, &done)
	lifetime := time.Duration(skjold.DefaultHandoverDays) * 24 * time.Hour
	if done.Result.ExpiresAt == nil || done.Result.ExpiresAt.Sub(*done.ClosedAt) > lifetime ||
		done.Result.ExpiresAt.Sub(*done.ClosedAt) < lifetime-time.Minute {
		t.Fatalf("result = %+v, closed %v", done.Result, done.ClosedAt)
	}
	e.clock.Advance(lifetime + time.Minute)
	e.do(t, "", "GET", strings.TrimPrefix(done.Result.DownloadURL, "https://skjold.test"), nil).wantError(t, 404, skjold.ENOTFOUND)
}

// TestRequestRectificationEndToEnd corrects a profile value and a record field.
func TestRequestRectificationEndToEnd(t *testing.T) {
	e := newEnv(t)
	r, s := e.verifiedRequest(t, e.a.token, skjold.RequestRectification, "")
	rec := e.createRecord(t, e.a.token, s.ID, map[string]any{"category": "contact", "data": map[string]string{"city": "Molde"}})
	e.do(t, e.a.token, "POST", "/api/v1/requests/"+r.ID+"/complete", map[string]any{}).wantError(t, 400, skjold.EINVALID)
	var done skjold.Request
	e.do(t, e.a.token, "POST", "/api/v1/requests/"+r.ID+"/complete", map[string]any{
		"subject": map[string]string{"name": "Rita Rask-Berg"},
		"records": map[string]any{rec.ID: map[string]string{"city": "Bergen"}},
	}).want(t, 200).decode(t, &done)
	if got := strings.Join(done.Result.Changed, ","); got != "name,"+rec.ID+".city" {
		t.Fatalf("changed = %s", got)
	}
	var sub skjold.Subject
	e.do(t, e.a.token, "GET", "/api/v1/subjects/"+s.ID, nil).want(t, 200).decode(t, &sub)
	var got skjold.Record
	e.do(t, e.a.token, "GET", "/api/v1/records/"+rec.ID, nil).want(t, 200).decode(t, &got)
	if sub.Name != "Rita Rask-Berg" || got.Data["city"] != "Bergen" {
		t.Fatalf("after rectification: %q, %v", sub.Name, got.Data)
	}
}

// TestRequestErasureEndToEnd erases a subject on request.
func TestRequestErasureEndToEnd(t *testing.T) {
	e := newEnv(t)
	r, s := e.verifiedRequest(t, e.a.token, skjold.RequestErasure, "")
	var done skjold.Request
	e.do(t, e.a.token, "POST", "/api/v1/requests/"+r.ID+"/complete", map[string]any{}).want(t, 200).decode(t, &done)
	if done.Result.Erasure == nil || !done.Result.Erasure.Complete || done.Result.Erasure.SubjectID != s.ID {
		t.Fatalf("erasure result = %+v", done.Result)
	}
	e.do(t, e.a.token, "GET", "/api/v1/subjects/"+s.ID, nil).wantError(t, 404, skjold.ENOTFOUND)
	e.do(t, e.a.token, "GET", "/api/v1/requests/"+r.ID, nil).want(t, 200) // the request outlives the subject
}

// TestRequestRestrictionObjectionConsentEndToEnd carries out a restriction, an objection
// and a consent withdrawal, and reads each effect back.
func TestRequestRestrictionObjectionConsentEndToEnd(t *testing.T) {
	e := newEnv(t)
	complete := func(r *skjold.Request) {
		t.Helper()
		e.do(t, e.a.token, "POST", "/api/v1/requests/"+r.ID+"/complete", map[string]any{}).want(t, 200)
	}
	r, s := e.verifiedRequest(t, e.a.token, skjold.RequestRestriction, "")
	complete(r)
	var sub skjold.Subject
	e.do(t, e.a.token, "GET", "/api/v1/subjects/"+s.ID+"?purpose=legal_claims", nil).want(t, 200).decode(t, &sub)
	if !sub.Restricted {
		t.Fatalf("restriction request left %+v", sub)
	}

	r, s = e.verifiedRequest(t, e.a.token, skjold.RequestObjection, "")
	complete(r)
	e.do(t, e.a.token, "GET", "/api/v1/subjects/"+s.ID, nil).want(t, 200).decode(t, &sub)
	if !sub.Objected {
		t.Fatalf("objection request left %+v", sub)
	}

	s = e.requestSubject(t, e.a.token)
	e.do(t, e.a.token, "POST", "/api/v1/subjects/"+s.ID+"/consents", map[string]any{"purpose": "newsletter", "granted": true}).want(t, 201)
	r = e.openRequest(t, e.a.token, s, skjold.RequestConsentWithdraw, "newsletter")
	e.do(t, "", "POST", "/api/v1/requests/"+r.ID+"/verify", map[string]string{"code": e.requestCode(t, s.Email)}).want(t, 200)
	complete(r)
	var history struct{ Items []skjold.Consent }
	e.do(t, e.a.token, "GET", "/api/v1/subjects/"+s.ID+"/consents", nil).want(t, 200).decode(t, &history)
	if n := len(history.Items); n != 2 || history.Items[1].Granted || history.Items[1].Source != skjold.SourceRequest {
		t.Fatalf("consent history = %+v", history.Items)
	}
}

// TestRequestVerificationLimits checks the attempt limit, resends and their limit, and
// expiry, through the public route.
func TestRequestVerificationLimits(t *testing.T) {
	e := newEnv(t)
	s := e.requestSubject(t, e.a.token)
	r := e.openRequest(t, e.a.token, s, skjold.RequestAccess, "")
	code := e.requestCode(t, s.Email)
	verify := func(code string) *reply {
		return e.do(t, "", "POST", "/api/v1/requests/"+r.ID+"/verify", map[string]string{"code": code})
	}
	for range 4 {
		verify(wrongCode(code)).wantError(t, 400, skjold.EINVALID)
	}
	verify(wrongCode(code)).wantError(t, 429, skjold.ETOOMANY)
	verify(code).wantError(t, 429, skjold.ETOOMANY) // void
	// The public route says no more about an unknown request than about a wrong code.
	unknown := e.do(t, "", "POST", "/api/v1/requests/"+missingID+"/verify", map[string]string{"code": code}).wantError(t, 400, skjold.EINVALID)
	e.do(t, "", "POST", "/api/v1/requests/"+r.ID+"x/verify", map[string]string{"code": code}).wantError(t, 404, skjold.ENOTFOUND)
	if unknown.Message != "the code is wrong or no longer valid" {
		t.Fatalf("unknown request: %+v", unknown)
	}

	e.do(t, e.a.token, "POST", "/api/v1/requests/"+r.ID+"/resend", nil).want(t, 204)
	code = e.requestCode(t, s.Email)
	e.clock.Advance(31 * time.Minute)
	verify(code).wantError(t, 409, skjold.ECONFLICT)
	e.do(t, e.a.token, "POST", "/api/v1/requests/"+r.ID+"/resend", nil).want(t, 204)
	code = e.requestCode(t, s.Email)
	e.do(t, e.a.token, "POST", "/api/v1/requests/"+r.ID+"/resend", nil).wantError(t, 429, skjold.ETOOMANY)
	verify(code).want(t, 200)
	e.do(t, e.a.token, "POST", "/api/v1/requests/"+r.ID+"/resend", nil).wantError(t, 409, skjold.ECONFLICT)
}

// TestRequestExtendRefuseOverdue checks the extension rules, the overdue list, and a refusal
// with its reason code.
func TestRequestExtendRefuseOverdue(t *testing.T) {
	e := newEnv(t)
	s := e.requestSubject(t, e.a.token)
	r := e.openRequest(t, e.a.token, s, skjold.RequestErasure, "")
	base := "/api/v1/requests/" + r.ID
	for _, bad := range []map[string]any{{"months": 0, "reason": "x"}, {"months": 3, "reason": "x"}, {"months": 1, "reason": ""}} {
		e.do(t, e.a.token, "POST", base+"/extend", bad).wantError(t, 400, skjold.EINVALID)
	}
	var x skjold.Request
	e.do(t, e.a.token, "POST", base+"/extend", map[string]any{"months": 2, "reason": "many requests at once"}).want(t, 200).decode(t, &x)
	if x.Status != skjold.StatusExtended || !x.DueAt.Equal(monthsAfter(r.ReceivedAt, 3)) {
		t.Fatalf("extended = %+v", x)
	}
	e.do(t, e.a.token, "POST", base+"/extend", map[string]any{"months": 1, "reason": "more"}).wantError(t, 400, skjold.EINVALID)

	other := e.openRequest(t, e.a.token, s, skjold.RequestAccess, "")
	e.clock.Advance(40 * 24 * time.Hour)
	var list struct{ Items []skjold.Request }
	e.do(t, e.a.token, "GET", "/api/v1/requests?overdue=true", nil).want(t, 200).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != other.ID || !list.Items[0].Overdue {
		t.Fatalf("overdue = %+v", list.Items)
	}
	e.do(t, e.a.token, "GET", "/api/v1/requests?overdue=maybe", nil).wantError(t, 400, skjold.EINVALID)

	e.do(t, e.a.token, "POST", base+"/refuse", map[string]string{"code": "because"}).wantError(t, 400, skjold.EINVALID)
	e.do(t, e.a.token, "POST", base+"/refuse", map[string]string{"code": "other"}).wantError(t, 400, skjold.EINVALID)
	e.do(t, e.a.token, "POST", base+"/refuse", map[string]string{"code": "legal_obligation", "note": "Invoices are kept five years."}).
		want(t, 200).decode(t, &x)
	if x.Status != skjold.StatusRefused || x.RefusalCode != skjold.RefusalLegalObligation || x.ClosedAt == nil {
		t.Fatalf("refused = %+v", x)
	}
	e.do(t, e.a.token, "GET", "/api/v1/requests?status=refused", nil).want(t, 200).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != r.ID {
		t.Fatalf("refused list = %+v", list.Items)
	}
	e.do(t, e.a.token, "POST", base+"/complete", map[string]any{}).wantError(t, 409, skjold.ECONFLICT)
	e.do(t, e.a.token, "GET", "/api/v1/subjects/"+s.ID, nil).want(t, 200) // not erased
}

// TestPrivacyNoticeSettings reads and replaces the privacy facts.
func TestPrivacyNoticeSettings(t *testing.T) {
	e := newEnv(t)
	var n skjold.PrivacyNotice
	e.do(t, e.a.token, "GET", "/api/v1/settings/privacy", nil).want(t, 200).decode(t, &n)
	if n.Controller != "" || n.Recipients == nil {
		t.Fatalf("default = %+v", n)
	}
	want := map[string]any{"controller": "Tenant A AS", "contact": "privacy@a.example", "supervisory_authority": "Datatilsynet",
		"recipients": []string{"Airlines"}, "storage_location": "Norway"}
	e.do(t, e.a.token, "PUT", "/api/v1/settings/privacy", want).want(t, 200).decode(t, &n)
	if n.Controller != "Tenant A AS" || len(n.Recipients) != 1 {
		t.Fatalf("put = %+v", n)
	}
	got := e.do(t, e.a.token, "PUT", "/api/v1/settings/privacy", map[string]any{"contact": strings.Repeat("x", 1001)}).wantError(t, 400, skjold.EINVALID)
	if got.Field != "contact" {
		t.Fatalf("error = %+v", got)
	}
	e.do(t, e.b.token, "GET", "/api/v1/settings/privacy", nil).want(t, 200).decode(t, &n)
	if n.Controller != "" {
		t.Fatalf("tenant B sees %+v", n)
	}
}

// requestOf returns a maker of fresh requests of token's tenant, verified when verified is
// set, for the authorisation table.
func (e *env) requestOf(token string, verified bool) func(t *testing.T) string {
	return func(t *testing.T) string {
		if verified {
			r, _ := e.verifiedRequest(t, token, skjold.RequestRestriction, "")
			return r.ID
		}
		return e.openRequest(t, token, e.requestSubject(t, token), skjold.RequestRestriction, "").ID
	}
}

// verifyBuilder makes, for the authorisation table, a verification of a fresh request of
// tenant A with the code from its e-mail: the public route needs nothing else.
func (e *env) verifyBuilder() builder {
	return builder{build: func(t *testing.T, _ *caller, _ object) request {
		s := e.requestSubject(t, e.a.token)
		r := e.openRequest(t, e.a.token, s, skjold.RequestRestriction, "")
		return request{path: "/api/v1/requests/" + r.ID + "/verify", body: map[string]string{"code": e.requestCode(t, s.Email)}}
	}}
}

// downloadBuilder makes, for the authorisation table, the download of a fresh access
// package of tenant A.
func (e *env) downloadBuilder() builder {
	return builder{build: func(t *testing.T, _ *caller, _ object) request {
		r, _ := e.verifiedRequest(t, e.a.token, skjold.RequestAccess, "")
		var done skjold.Request
		e.do(t, e.a.token, "POST", "/api/v1/requests/"+r.ID+"/complete", map[string]any{}).want(t, 200).decode(t, &done)
		return request{path: strings.TrimPrefix(done.Result.DownloadURL, "https://skjold.test")}
	}}
}
