package storetest

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestRequests checks the skjold.RequestService: opening a request by lookup, identity
// verification by a one-time code (attempt limit, expiry, resends), due dates and their
// extension, refusal, completion of every request type, single-use downloads, overdue
// flags, the privacy notice, and tenant isolation.
func TestRequests(t *testing.T, h Harness) {
	t.Run("Open", func(t *testing.T) { testRequestOpen(t, h) })
	t.Run("Verify", func(t *testing.T) { testRequestVerify(t, h) })
	t.Run("AttemptLimit", func(t *testing.T) { testRequestAttemptLimit(t, h) })
	t.Run("Expiry", func(t *testing.T) { testRequestExpiry(t, h) })
	t.Run("Extend", func(t *testing.T) { testRequestExtend(t, h) })
	t.Run("DueDates", func(t *testing.T) { testRequestDueDates(t, h) })
	t.Run("Refuse", func(t *testing.T) { testRequestRefuse(t, h) })
	t.Run("Overdue", func(t *testing.T) { testRequestOverdue(t, h) })
	t.Run("Complete", func(t *testing.T) { testRequestComplete(t, h) })
	t.Run("Rectification", func(t *testing.T) { testRequestRectification(t, h) })
	t.Run("Download", func(t *testing.T) { testRequestDownload(t, h) })
	t.Run("DownloadFrozen", func(t *testing.T) { testRequestDownloadFrozen(t, h) })
	t.Run("PrivacyNotice", func(t *testing.T) { testPrivacyNotice(t, h) })
	t.Run("TenantIsolation", func(t *testing.T) { testRequestIsolation(t, h) })
}

// publicURL is the base of the download links in tests.
const publicURL = "https://skjold.test"

// zipPackager is a minimal access packager: a ZIP with data.json, the subject's profile.
func zipPackager(w io.Writer, d *skjold.SubjectData) error {
	zw := zip.NewWriter(w)
	f, err := zw.Create("data.json")
	if err != nil {
		return err
	}
	if err := json.NewEncoder(f).Encode(map[string]any{"subject": d.Subject, "records": d.Records}); err != nil {
		return err
	}
	return zw.Close()
}

// newRequestEnv is newEnv with a store that can build access packages and links.
func newRequestEnv(t *testing.T, h Harness) *env {
	e := newEnv(t, h)
	opts := e.options(e.keys)
	opts.Packager, opts.PublicURL = zipPackager, publicURL
	e.db = h.Open(t, opts)
	return e
}

// openRequest opens a request of type typ for s (by e-mail) and returns it with the code
// mailed to the subject.
func (e *env) openRequest(ctx context.Context, s *skjold.Subject, typ, purpose string) (*skjold.Request, string) {
	e.t.Helper()
	r := &skjold.Request{Type: typ, Purpose: purpose}
	if err := e.db.OpenRequest(ctx, r, skjold.SubjectLookup{Email: s.Email}); err != nil {
		e.t.Fatalf("OpenRequest(%s): %v", typ, err)
	}
	return r, e.requestCode(s.Email)
}

var codeRE = regexp.MustCompile(`(?m)^\d{8}\r?$`)

// requestCode waits for the code e-mail to addr and returns the code in it.
func (e *env) requestCode(addr string) string {
	e.t.Helper()
	body := e.requestMail(addr)
	code := strings.TrimSpace(codeRE.FindString(body))
	if code == "" {
		e.t.Fatalf("no code in e-mail %q", body)
	}
	return code
}

// requestMail waits for the one e-mail in the outbox, checks that it goes to addr, removes
// it and returns its decoded body.
func (e *env) requestMail(addr string) string {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(e.outbox, "*.eml"))
		if len(files) > 1 {
			e.t.Fatalf("%d e-mails in the outbox, want one", len(files))
		}
		if len(files) == 1 {
			raw, err := os.ReadFile(files[0])
			must(e.t, err)
			os.Remove(files[0])
			head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
			if !strings.Contains(strings.ToLower(head), "to: "+strings.ToLower(addr)) {
				e.t.Fatalf("e-mail headers %q, want To: %s", head, addr)
			}
			plain, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
			must(e.t, err)
			return string(plain)
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatal("no e-mail within 10 s")
	return ""
}

// verified opens a request and verifies it with the mailed code.
func (e *env) verified(ctx context.Context, s *skjold.Subject, typ, purpose string) *skjold.Request {
	e.t.Helper()
	r, code := e.openRequest(ctx, s, typ, purpose)
	v, err := e.db.VerifyRequest(e.t.Context(), r.ID, code)
	if err != nil {
		e.t.Fatalf("VerifyRequest: %v", err)
	}
	return v
}

func testRequestOpen(t *testing.T, h Harness) {
	e := newRequestEnv(t, h)
	tn := e.newTenant("Fjord Travel")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, anna())
	e.newSubject(ctx, &skjold.Subject{Ref: "C-2", Phone: "+47 900 00 000", Name: "No Mail"})
	for name, tc := range map[string]struct {
		r    skjold.Request
		who  skjold.SubjectLookup
		code string
	}{
		"bad type":              {skjold.Request{Type: "delete"}, skjold.SubjectLookup{Email: s.Email}, skjold.EINVALID},
		"no lookup":             {skjold.Request{Type: skjold.RequestAccess}, skjold.SubjectLookup{}, skjold.EINVALID},
		"two lookups":           {skjold.Request{Type: skjold.RequestAccess}, skjold.SubjectLookup{Email: s.Email, Ref: s.Ref}, skjold.EINVALID},
		"no match":              {skjold.Request{Type: skjold.RequestAccess}, skjold.SubjectLookup{Email: "nobody@example.com"}, skjold.ENOTFOUND},
		"no e-mail on file":     {skjold.Request{Type: skjold.RequestAccess}, skjold.SubjectLookup{Ref: "C-2"}, skjold.ECONFLICT},
		"withdrawal no purpose": {skjold.Request{Type: skjold.RequestConsentWithdraw}, skjold.SubjectLookup{Ref: s.Ref}, skjold.EINVALID},
		"unknown purpose":       {skjold.Request{Type: skjold.RequestConsentWithdraw, Purpose: "telepathy"}, skjold.SubjectLookup{Ref: s.Ref}, skjold.EINVALID},
		"purpose on access":     {skjold.Request{Type: skjold.RequestAccess, Purpose: "newsletter"}, skjold.SubjectLookup{Ref: s.Ref}, skjold.EINVALID},
	} {
		t.Run(name, func(t *testing.T) {
			r := tc.r
			wantCode(t, e.db.OpenRequest(ctx, &r, tc.who), tc.code)
		})
	}
	raw := e.raw()
	if n := e.rawCount(raw, "SELECT COUNT(*) FROM requests"); n != 0 {
		t.Fatalf("%d requests stored by refused opens", n)
	}
	seq := e.lastSeq()
	r := &skjold.Request{Type: skjold.RequestErasure}
	must(t, e.db.OpenRequest(ctx, r, skjold.SubjectLookup{Phone: "+4791234567"}))
	if r.SubjectID != s.ID || r.Status != skjold.StatusAwaitingVerification || !r.ReceivedAt.Equal(epoch) ||
		!r.DueAt.Equal(epoch.AddDate(0, 1, 0)) || r.CreatedBy != "token:x" || r.VerifiedAt != nil {
		t.Fatalf("opened request = %+v", r)
	}
	body := e.requestMail(s.Email)
	code := strings.TrimSpace(codeRE.FindString(body))
	if !strings.Contains(body, "Fjord Travel") || !strings.Contains(body, "erasure") || !strings.Contains(body, r.ID) || code == "" {
		t.Fatalf("code e-mail = %q, want the tenant, the request type, its id and a code", body)
	}
	for _, personal := range []string{"Anna", "Berg", "912", "C-1001", strings.ToLower(s.Email)} {
		if strings.Contains(strings.ToLower(body), strings.ToLower(personal)) {
			t.Fatalf("code e-mail holds personal data %q: %q", personal, body)
		}
	}
	var hash []byte
	must(t, raw.QueryRow(e.rebind("SELECT code_hash FROM requests WHERE id = ?"), r.ID).Scan(&hash))
	if len(hash) != 32 || bytes.Contains(hash, []byte(code)) {
		t.Fatalf("code_hash = %x, want a SHA-256", hash)
	}
	evs := e.events(seq)
	if len(evs) != 1 || evs[0].Action != "request.open" || evs[0].SubjectID != s.ID || !slices.Equal(evs[0].Fields, []string{"type:erasure"}) {
		t.Fatalf("audit = %+v, want one request.open", evs)
	}
	readOnly := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "token:r", TenantID: tn.ID, Scopes: []string{skjold.ScopeRead}})
	wantCode(t, e.db.OpenRequest(readOnly, &skjold.Request{Type: skjold.RequestAccess}, skjold.SubjectLookup{Email: s.Email}), skjold.EFORBIDDEN)
}

func testRequestVerify(t *testing.T, h Harness) {
	e := newRequestEnv(t, h)
	ctx := e.as(e.newTenant("Fjord Travel"), "")
	s := e.newSubject(ctx, anna())
	r, code := e.openRequest(ctx, s, skjold.RequestAccess, "")
	_, err := e.db.CompleteRequest(ctx, r.ID, nil)
	wantCode(t, err, skjold.ECONFLICT)
	if !strings.Contains(err.Error(), "identity not verified") {
		t.Fatalf("CompleteRequest before verification: %v", err)
	}
	seq := e.lastSeq()
	wrong := "00000000"
	if wrong == code {
		wrong = "11111111"
	}
	for _, bad := range []struct{ id, code, want string }{
		{r.ID, wrong, skjold.EINVALID},
		{r.ID, "1234", skjold.EINVALID},
		{"not-an-id", code, skjold.ENOTFOUND},
		{"0193a2b4-0000-7000-8000-000000000000", code, skjold.EINVALID}, // unknown: same answer as a wrong code
	} {
		_, err := e.db.VerifyRequest(t.Context(), bad.id, bad.code)
		wantCode(t, err, bad.want)
	}
	e.clock.Add(time.Minute)
	v, err := e.db.VerifyRequest(t.Context(), r.ID, code)
	must(t, err)
	if v.Status != skjold.StatusInProgress || v.VerifiedAt == nil || !v.VerifiedAt.Equal(epoch.Add(time.Minute)) {
		t.Fatalf("verified request = %+v", v)
	}
	_, err = e.db.VerifyRequest(t.Context(), r.ID, code) // used up
	wantCode(t, err, skjold.EINVALID)
	var actions []string
	for _, ev := range e.events(seq) {
		actions = append(actions, ev.Action)
	}
	if !slices.Equal(actions, []string{"request.verify_failed", "request.verify"}) {
		t.Fatalf("audit actions = %v", actions)
	}
	wantCode(t, e.db.ResendCode(ctx, r.ID), skjold.ECONFLICT) // verified: no more codes
}

func testRequestAttemptLimit(t *testing.T, h Harness) {
	e := newRequestEnv(t, h)
	ctx := e.as(e.newTenant("Fjord Travel"), "")
	s := e.newSubject(ctx, anna())
	r, code := e.openRequest(ctx, s, skjold.RequestAccess, "")
	wrong := func(code string) string {
		if code == "99999999" {
			return "99999998"
		}
		return "99999999"
	}
	for i := 1; i <= 5; i++ {
		_, err := e.db.VerifyRequest(t.Context(), r.ID, wrong(code))
		want := skjold.EINVALID
		if i == 5 {
			want = skjold.ETOOMANY
		}
		wantCode(t, err, want)
	}
	_, err := e.db.VerifyRequest(t.Context(), r.ID, code) // void now, even the right one
	wantCode(t, err, skjold.ETOOMANY)

	for i := 2; i <= 3; i++ { // the first code was the first of three
		must(t, e.db.ResendCode(ctx, r.ID))
		code = e.requestCode(s.Email)
	}
	wantCode(t, e.db.ResendCode(ctx, r.ID), skjold.ETOOMANY)
	v, err := e.db.VerifyRequest(t.Context(), r.ID, code)
	must(t, err)
	if v.VerifiedAt == nil {
		t.Fatalf("request not verified by a fresh code: %+v", v)
	}
}

func testRequestExpiry(t *testing.T, h Harness) {
	e := newRequestEnv(t, h)
	ctx := e.as(e.newTenant("Fjord Travel"), "")
	s := e.newSubject(ctx, anna())
	r, code := e.openRequest(ctx, s, skjold.RequestAccess, "")
	e.clock.Add(30 * time.Minute)
	_, err := e.db.VerifyRequest(t.Context(), r.ID, code)
	wantCode(t, err, skjold.ECONFLICT)
	if !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired code: %v", err)
	}
	_, err = e.db.VerifyRequest(t.Context(), r.ID, code)
	wantCode(t, err, skjold.EINVALID)
	must(t, e.db.ResendCode(ctx, r.ID))
	code = e.requestCode(s.Email)
	e.clock.Add(29 * time.Minute)
	_, err = e.db.VerifyRequest(t.Context(), r.ID, code)
	must(t, err)
}

func testRequestExtend(t *testing.T, h Harness) {
	e := newRequestEnv(t, h)
	ctx := e.as(e.newTenant("Fjord Travel"), "")
	s := e.newSubject(ctx, anna())
	r, _ := e.openRequest(ctx, s, skjold.RequestAccess, "")
	for _, bad := range []struct {
		months int
		reason string
	}{{0, "busy"}, {3, "busy"}, {-1, "busy"}, {1, " "}, {1, strings.Repeat("x", 1001)}} {
		_, err := e.db.ExtendRequest(ctx, r.ID, bad.months, bad.reason)
		wantCode(t, err, skjold.EINVALID)
	}
	x, err := e.db.ExtendRequest(ctx, r.ID, 1, "many requests at once")
	must(t, err)
	if x.Status != skjold.StatusExtended || !x.DueAt.Equal(epoch.AddDate(0, 2, 0)) || x.ExtensionReason != "many requests at once" {
		t.Fatalf("extended request = %+v", x)
	}
	_, err = e.db.ExtendRequest(ctx, r.ID, 2, "more") // three months beyond the first in all
	wantCode(t, err, skjold.EINVALID)
	x, err = e.db.ExtendRequest(ctx, r.ID, 1, "complex records")
	must(t, err)
	if !x.DueAt.Equal(epoch.AddDate(0, 3, 0)) {
		t.Fatalf("due after two extensions = %v", x.DueAt)
	}
	_, err = e.db.ExtendRequest(ctx, r.ID, 1, "again")
	wantCode(t, err, skjold.EINVALID)
	_, err = e.db.ExtendRequest(ctx, "0193a2b4-0000-7000-8000-000000000000", 1, "x")
	wantCode(t, err, skjold.ENOTFOUND)
}

// testRequestDueDates checks that a month after the 31st is the last day of the next month,
// not a day of the one after it.
func testRequestDueDates(t *testing.T, h Harness) {
	e := newRequestEnv(t, h)
	ctx := e.as(e.newTenant("Fjord Travel"), "")
	s := e.newSubject(ctx, anna())
	e.clock.Add(30 * 24 * time.Hour) // 31 March
	r, _ := e.openRequest(ctx, s, skjold.RequestAccess, "")
	day := func(m time.Month, d int) time.Time { return time.Date(2025, m, d, 9, 30, 0, 0, time.UTC) }
	if !r.DueAt.Equal(day(time.April, 30)) {
		t.Fatalf("due %v, want 30 April", r.DueAt)
	}
	for _, want := range []time.Time{day(time.May, 31), day(time.June, 30)} {
		x, err := e.db.ExtendRequest(ctx, r.ID, 1, "backlog")
		must(t, err)
		if !x.DueAt.Equal(want) {
			t.Fatalf("extended to %v, want %v", x.DueAt, want)
		}
	}
	_, err := e.db.ExtendRequest(ctx, r.ID, 1, "backlog")
	wantCode(t, err, skjold.EINVALID)
}

func testRequestRefuse(t *testing.T, h Harness) {
	e := newRequestEnv(t, h)
	ctx := e.as(e.newTenant("Fjord Travel"), "")
	s := e.newSubject(ctx, anna())
	r, code := e.openRequest(ctx, s, skjold.RequestErasure, "")
	for _, bad := range [][2]string{{"because", ""}, {"", ""}, {skjold.RefusalOther, ""}, {skjold.RefusalExcessive, strings.Repeat("x", 1001)}} {
		_, err := e.db.RefuseRequest(ctx, r.ID, bad[0], bad[1])
		wantCode(t, err, skjold.EINVALID)
	}
	e.clock.Add(time.Hour)
	seq := e.lastSeq()
	x, err := e.db.RefuseRequest(ctx, r.ID, skjold.RefusalLegalObligation, "Invoices are kept five years.")
	must(t, err)
	if x.Status != skjold.StatusRefused || x.RefusalCode != skjold.RefusalLegalObligation ||
		x.RefusalNote != "Invoices are kept five years." || x.ClosedAt == nil || !x.ClosedAt.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("refused request = %+v", x)
	}
	if evs := e.events(seq); len(evs) != 1 || evs[0].Action != "request.refuse" || !slices.Equal(evs[0].Fields, []string{"code:legal_obligation"}) {
		t.Fatalf("audit = %+v", evs)
	}
	_, err = e.db.RefuseRequest(ctx, r.ID, skjold.RefusalOther, "twice")
	wantCode(t, err, skjold.ECONFLICT)
	_, err = e.db.ExtendRequest(ctx, r.ID, 1, "late")
	wantCode(t, err, skjold.ECONFLICT)
	_, err = e.db.VerifyRequest(t.Context(), r.ID, code)
	wantCode(t, err, skjold.EINVALID)
	_, err = e.db.CompleteRequest(ctx, r.ID, nil)
	wantCode(t, err, skjold.ECONFLICT)
	if _, err := e.db.FindSubjectByID(ctx, s.ID); err != nil {
		t.Fatalf("subject of a refused erasure: %v", err)
	}
}

func testRequestOverdue(t *testing.T, h Harness) {
	e := newRequestEnv(t, h)
	tn := e.newTenant("Fjord Travel")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, anna())
	late, _ := e.openRequest(ctx, s, skjold.RequestAccess, "")
	e.clock.Add(24 * time.Hour)
	onTime, _ := e.openRequest(ctx, s, skjold.RequestObjection, "")
	closed, _ := e.openRequest(ctx, s, skjold.RequestRestriction, "")
	_, err := e.db.RefuseRequest(ctx, closed.ID, skjold.RefusalManifestlyUnfounded, "")
	must(t, err)
	e.clock.Add(epoch.AddDate(0, 1, 1).Sub(e.clock.Now())) // past late's due date, before onTime's
	got, err := e.db.FindRequests(ctx, skjold.RequestFilter{Overdue: true})
	must(t, err)
	if len(got) != 1 || got[0].ID != late.ID || !got[0].Overdue {
		t.Fatalf("overdue requests = %+v", got)
	}
	// The metrics' counts: open requests by type (the refused one is closed), one overdue.
	open, overdue, err := e.db.CountOpenRequests(context.Background())
	must(t, err)
	if len(open) != 2 || open[skjold.RequestAccess] != 1 || open[skjold.RequestObjection] != 1 || overdue != 1 {
		t.Fatalf("CountOpenRequests = %v, %d overdue; want access 1, objection 1, 1 overdue", open, overdue)
	}
	all, err := e.db.FindRequests(ctx, skjold.RequestFilter{})
	must(t, err)
	if len(all) != 3 || all[0].ID != late.ID || all[1].ID != onTime.ID || all[1].Overdue || all[2].Overdue {
		t.Fatalf("all requests = %+v", all)
	}
	refused, err := e.db.FindRequests(ctx, skjold.RequestFilter{Status: skjold.StatusRefused})
	must(t, err)
	if len(refused) != 1 || refused[0].ID != closed.ID {
		t.Fatalf("refused requests = %+v", refused)
	}
	_, err = e.db.FindRequests(ctx, skjold.RequestFilter{Status: "lost"})
	wantCode(t, err, skjold.EINVALID)
	for f, want := range map[skjold.RequestFilter][]string{
		{State: skjold.RequestOpen}:                                  {late.ID, onTime.ID},
		{State: skjold.RequestClosed}:                                {closed.ID},
		{Type: skjold.RequestObjection}:                              {onTime.ID},
		{Type: skjold.RequestRestriction, State: skjold.RequestOpen}: nil,
		{Type: skjold.RequestAccess, Overdue: true}:                  {late.ID},
		{Type: skjold.RequestErasure}:                                nil,
	} {
		got, err := e.db.FindRequests(ctx, f)
		must(t, err)
		ids := []string{}
		for _, r := range got {
			ids = append(ids, r.ID)
		}
		if !slices.Equal(ids, want) && !(len(ids) == 0 && len(want) == 0) {
			t.Errorf("FindRequests(%+v) = %v, want %v", f, ids, want)
		}
	}
	for _, f := range []skjold.RequestFilter{{Type: "complaint"}, {State: "pending"}} {
		_, err = e.db.FindRequests(ctx, f)
		wantCode(t, err, skjold.EINVALID)
	}

	seq := e.lastSeq()
	n, err := e.db.FlagOverdueRequests(t.Context())
	must(t, err)
	if n != 1 {
		t.Fatalf("FlagOverdueRequests = %d, want 1", n)
	}
	evs := e.events(seq)
	if len(evs) != 1 || evs[0].Action != "request.overdue" || evs[0].TenantID != tn.ID || evs[0].SubjectID != "" ||
		!slices.Equal(evs[0].Fields, []string{"request:" + late.ID}) {
		t.Fatalf("overdue audit = %+v", evs)
	}
	if n, _ := e.db.FlagOverdueRequests(t.Context()); n != 0 {
		t.Fatalf("second FlagOverdueRequests = %d, want 0: one alert per due date", n)
	}
	x, err := e.db.ExtendRequest(ctx, late.ID, 1, "backlog")
	must(t, err)
	if x.Overdue {
		t.Fatalf("extended request still overdue: %+v", x)
	}
	e.clock.Add(40 * 24 * time.Hour)
	if n, _ := e.db.FlagOverdueRequests(t.Context()); n != 2 {
		t.Fatalf("FlagOverdueRequests after the extension ran out = %d, want 2", n)
	}
}

// testRequestComplete completes each request type that needs no body and checks, in the
// raw database, what it left behind.
func testRequestComplete(t *testing.T, h Harness) {
	e := newRequestEnv(t, h)
	ctx := e.as(e.newTenant("Fjord Travel"), "")
	_, err := e.db.PutPurpose(ctx, &skjold.Purpose{Name: "newsletter", LegalBasis: skjold.BasisConsent,
		Notice: "We send you news.", Channels: []string{skjold.ChannelEmail}})
	must(t, err)
	raw := e.raw()
	for _, tc := range []struct {
		typ, purpose string
		check        func(t *testing.T, s *skjold.Subject, r *skjold.Request)
	}{
		{skjold.RequestRestriction, "", func(t *testing.T, s *skjold.Subject, r *skjold.Request) {
			if e.rawCount(raw, "SELECT COUNT(*) FROM subjects WHERE id = ? AND restricted_at IS NOT NULL", s.ID) != 1 {
				t.Fatal("subject not restricted")
			}
		}},
		{skjold.RequestObjection, "", func(t *testing.T, s *skjold.Subject, r *skjold.Request) {
			if e.rawCount(raw, "SELECT COUNT(*) FROM subjects WHERE id = ? AND objected_at IS NOT NULL", s.ID) != 1 {
				t.Fatal("objection not recorded")
			}
		}},
		{skjold.RequestConsentWithdraw, "newsletter", func(t *testing.T, s *skjold.Subject, r *skjold.Request) {
			if e.rawCount(raw, "SELECT COUNT(*) FROM consents WHERE subject_id = ? AND purpose = 'newsletter' AND granted = 0 AND source = 'request'", s.ID) != 1 {
				t.Fatal("no withdrawal recorded")
			}
		}},
		{skjold.RequestErasure, "", func(t *testing.T, s *skjold.Subject, r *skjold.Request) {
			if r.Result == nil || r.Result.Erasure == nil || r.Result.Erasure.SubjectID != s.ID {
				t.Fatalf("erasure result = %+v", r.Result)
			}
			if !r.Result.Erasure.Complete || e.rawCount(raw, "SELECT COUNT(*) FROM subjects WHERE id = ?", s.ID) != 0 {
				t.Fatal("subject still stored after a complete erasure")
			}
		}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			s := e.newSubject(ctx, &skjold.Subject{Email: tc.typ + "@example.com", Name: "Subject"})
			if tc.purpose != "" {
				must(t, e.db.RecordConsent(ctx, &skjold.Consent{SubjectID: s.ID, Purpose: tc.purpose, Granted: true, Source: skjold.SourceAPI}))
			}
			r := e.verified(ctx, s, tc.typ, tc.purpose)
			_, err := e.db.CompleteRequest(ctx, r.ID, &skjold.Rectification{Subject: skjold.SubjectUpdate{Name: ptr("X")}})
			wantCode(t, err, skjold.EINVALID) // corrections belong to rectifications only
			seq := e.lastSeq()
			done, err := e.db.CompleteRequest(ctx, r.ID, nil)
			must(t, err)
			if done.Status != skjold.StatusCompleted || done.ClosedAt == nil || done.Result == nil {
				t.Fatalf("completed request = %+v", done)
			}
			var complete bool
			for _, ev := range e.events(seq) {
				complete = complete || ev.Action == "request.complete" && slices.Equal(ev.Fields, []string{"type:" + tc.typ})
			}
			if !complete {
				t.Fatal("no request.complete event")
			}
			tc.check(t, s, done)
			_, err = e.db.CompleteRequest(ctx, r.ID, nil)
			wantCode(t, err, skjold.ECONFLICT)
		})
	}
}

func testRequestRectification(t *testing.T, h Harness) {
	e := newRequestEnv(t, h)
	ctx := e.as(e.newTenant("Fjord Travel"), "")
	s := e.newSubject(ctx, anna())
	other := e.newSubject(ctx, &skjold.Subject{Ref: "C-9", Name: "Other"})
	rec := e.newRecord(ctx, s.ID, "travel_booking", booking())
	foreign := e.newRecord(ctx, other.ID, "travel_booking", booking())
	r := e.verified(ctx, s, skjold.RequestRectification, "")
	for name, fix := range map[string]*skjold.Rectification{
		"nothing":        nil,
		"empty":          {},
		"foreign record": {Records: map[string]map[string]any{foreign.ID: {"notes": "x"}}},
		"bad value":      {Subject: skjold.SubjectUpdate{BirthDate: ptr("31.12.1980")}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.db.CompleteRequest(ctx, r.ID, fix)
			wantCode(t, err, skjold.EINVALID)
		})
	}
	done, err := e.db.CompleteRequest(ctx, r.ID, &skjold.Rectification{Subject: skjold.SubjectUpdate{Name: ptr("Anna Berg-Lund")},
		Records: map[string]map[string]any{rec.ID: {"notes": "Aisle seat"}}})
	must(t, err)
	if want := []string{"name", rec.ID + ".notes"}; !slices.Equal(done.Result.Changed, want) {
		t.Fatalf("Changed = %v, want %v", done.Result.Changed, want)
	}
	got, err := e.db.FindSubjectByID(ctx, s.ID)
	must(t, err)
	gotRec, err := e.db.FindRecordByID(ctx, rec.ID)
	must(t, err)
	if got.Name != "Anna Berg-Lund" || gotRec.Data["notes"] != "Aisle seat" {
		t.Fatalf("after rectification: %s, %v", got.Name, gotRec.Data["notes"])
	}
	var result string
	must(t, e.raw().QueryRow(e.rebind("SELECT result FROM requests WHERE id = ?"), r.ID).Scan(&result))
	if strings.Contains(result, "Aisle") || strings.Contains(result, "Lund") {
		t.Fatalf("stored result holds personal values: %s", result)
	}
}

func testRequestDownload(t *testing.T, h Harness) {
	e := newRequestEnv(t, h)
	ctx := e.as(e.newTenant("Fjord Travel"), "")
	s := e.newSubject(ctx, anna())
	for _, typ := range []string{skjold.RequestAccess, skjold.RequestPortability} {
		r := e.verified(ctx, s, typ, "")
		done, err := e.db.CompleteRequest(ctx, r.ID, nil)
		must(t, err)
		link := done.Result.DownloadURL
		if !strings.HasPrefix(link, publicURL+"/api/v1/downloads/skjold_d_") || done.Result.ExpiresAt == nil ||
			!done.Result.ExpiresAt.Equal(e.clock.Now().AddDate(0, 0, skjold.DefaultHandoverDays)) {
			t.Fatalf("result = %+v", done.Result)
		}
		if mail := e.requestMail(s.Email); !strings.Contains(mail, link) {
			t.Fatalf("link e-mail = %q, want the link", mail)
		}
		again, err := e.db.FindRequestByID(ctx, r.ID)
		must(t, err)
		if again.Result.DownloadURL != "" {
			t.Fatal("the download link is stored with the request")
		}
		secret := strings.TrimPrefix(link, publicURL+"/api/v1/downloads/")
		if typ == skjold.RequestPortability {
			e.clock.Add(time.Duration(skjold.DefaultHandoverDays) * 24 * time.Hour)
			_, _, err := e.db.Download(t.Context(), secret)
			wantCode(t, err, skjold.ENOTFOUND)
			continue
		}
		var sealed []byte
		must(t, e.raw().QueryRow(e.rebind("SELECT content FROM downloads WHERE request_id = ?"), r.ID).Scan(&sealed))
		if len(sealed) == 0 || bytes.Contains(sealed, []byte("data.json")) {
			t.Fatalf("stored copy is %d bytes, and not sealed", len(sealed))
		}
		seq := e.lastSeq()
		name, content, err := e.db.Download(t.Context(), secret)
		must(t, err)
		if name != "skjold-access-"+r.ID+".zip" {
			t.Fatalf("name = %q", name)
		}
		zr, err := zip.NewReader(bytes.NewReader(content), int64(len(content)))
		must(t, err)
		if len(zr.File) != 1 || zr.File[0].Name != "data.json" {
			t.Fatalf("package holds %v", zr.File)
		}
		if evs := e.events(seq); len(evs) != 1 || evs[0].Action != "download.fetch" || evs[0].SubjectID != s.ID {
			t.Fatalf("audit = %+v", evs)
		}
		_, _, err = e.db.Download(t.Context(), secret)
		wantCode(t, err, skjold.ENOTFOUND)
		if n := e.rawCount(e.raw(), "SELECT COUNT(*) FROM downloads WHERE used_at IS NOT NULL AND LENGTH(content) = 0"); n != 1 {
			t.Fatalf("%d used downloads emptied, want 1", n)
		}
	}
	// Concurrent fetches of one link: exactly one gets the copy.
	r := e.verified(ctx, s, skjold.RequestAccess, "")
	done, err := e.db.CompleteRequest(ctx, r.ID, nil)
	must(t, err)
	e.requestMail(s.Email)
	secret := strings.TrimPrefix(done.Result.DownloadURL, publicURL+"/api/v1/downloads/")
	var wg sync.WaitGroup
	var got atomic.Int32
	for range 8 {
		wg.Go(func() {
			if _, _, err := e.db.Download(context.Background(), secret); err == nil {
				got.Add(1)
			} else if skjold.ErrorCode(err) != skjold.ENOTFOUND {
				t.Errorf("concurrent Download: %v", err)
			}
		})
	}
	wg.Wait()
	if got.Load() != 1 {
		t.Fatalf("%d concurrent downloads of one link succeeded, want 1", got.Load())
	}
	for _, bad := range []string{"", "x", "skjold_d_" + strings.Repeat("A", 43), "skjold_t_" + strings.Repeat("A", 43)} {
		_, _, err := e.db.Download(t.Context(), bad)
		wantCode(t, err, skjold.ENOTFOUND)
	}
}

// testRequestDownloadFrozen checks that a frozen tenant's hand-over copy is not handed out
// while the freeze lasts (every call of a frozen tenant is refused, its data kept), and
// that the link is not used up by the refusal.
func testRequestDownloadFrozen(t *testing.T, h Harness) {
	e := newRequestEnv(t, h)
	tn := e.newTenant("Fjord Travel")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, anna())
	r := e.verified(ctx, s, skjold.RequestAccess, "")
	done, err := e.db.CompleteRequest(ctx, r.ID, nil)
	must(t, err)
	e.requestMail(s.Email)
	secret := strings.TrimPrefix(done.Result.DownloadURL, publicURL+"/api/v1/downloads/")
	first, second := e.managers("dl")
	e.freeze(first, second, tn, 30)
	_, _, err = e.db.Download(t.Context(), secret)
	wantFrozen(t, "a download", err)
	_, err = e.db.ReactivateTenant(e.op, tn.ID)
	must(t, err)
	_, _, err = e.db.Download(t.Context(), secret)
	must(t, err)
}

func testPrivacyNotice(t *testing.T, h Harness) {
	e := newRequestEnv(t, h)
	tn := e.newTenant("Fjord Travel")
	ctx := e.as(tn, "")
	n, err := e.db.PrivacyNotice(ctx)
	must(t, err)
	if n.Controller != "" || n.Recipients == nil || len(n.Recipients) != 0 {
		t.Fatalf("default notice = %+v", n)
	}
	want := &skjold.PrivacyNotice{Controller: "Fjord Travel AS", Contact: "privacy@fjord.example",
		SupervisoryAuthority: "Datatilsynet", Recipients: []string{"Airlines", "Hotels"}, StorageLocation: "Norway"}
	many := make([]string, 51)
	for i := range many {
		many[i] = "r"
	}
	for name, bad := range map[string]*skjold.PrivacyNotice{
		"long controller":  {Controller: strings.Repeat("x", 1001)},
		"many recipients":  {Recipients: many},
		"empty recipient":  {Recipients: []string{"ok", " "}},
		"long storage loc": {StorageLocation: strings.Repeat("x", 1001)},
	} {
		t.Run(name, func(t *testing.T) { wantCode(t, e.db.PutPrivacyNotice(ctx, bad), skjold.EINVALID) })
	}
	writer := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "token:w", TenantID: tn.ID,
		Scopes: []string{skjold.ScopeRead, skjold.ScopeWrite}})
	wantCode(t, e.db.PutPrivacyNotice(writer, want), skjold.EFORBIDDEN)
	must(t, e.db.PutPrivacyNotice(ctx, want))
	must(t, e.db.PutPrivacyNotice(ctx, want)) // replaces
	got, err := e.db.PrivacyNotice(writer)
	must(t, err)
	if mustJSON(t, got) != mustJSON(t, want) {
		t.Fatalf("notice = %+v, want %+v", got, want)
	}
	other, err := e.db.PrivacyNotice(e.as(e.newTenant("Other"), ""))
	must(t, err)
	if other.Controller != "" {
		t.Fatalf("another tenant sees the notice: %+v", other)
	}
}

func testRequestIsolation(t *testing.T, h Harness) {
	e := newRequestEnv(t, h)
	a, b := e.as(e.newTenant("A"), ""), e.as(e.newTenant("B"), "")
	s := e.newSubject(a, anna())
	r := e.verified(a, s, skjold.RequestRestriction, "")
	_, err := e.db.FindRequestByID(b, r.ID)
	wantCode(t, err, skjold.ENOTFOUND)
	_, err = e.db.CompleteRequest(b, r.ID, nil)
	wantCode(t, err, skjold.ENOTFOUND)
	_, err = e.db.RefuseRequest(b, r.ID, skjold.RefusalOther, "x")
	wantCode(t, err, skjold.ENOTFOUND)
	_, err = e.db.ExtendRequest(b, r.ID, 1, "x")
	wantCode(t, err, skjold.ENOTFOUND)
	wantCode(t, e.db.ResendCode(b, r.ID), skjold.ENOTFOUND)
	list, err := e.db.FindRequests(b, skjold.RequestFilter{})
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("tenant B lists %d requests of A", len(list))
	}
	wantCode(t, e.db.OpenRequest(b, &skjold.Request{Type: skjold.RequestAccess}, skjold.SubjectLookup{Email: s.Email}), skjold.ENOTFOUND)
}
