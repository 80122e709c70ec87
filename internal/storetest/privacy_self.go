package storetest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestPrivacySelf checks the subject's own view on each engine: a code login that mails the
// address on file only (an unknown address answers alike, with no e-mail and no audit event),
// wrong and expired codes, the session's expiry and logout, the subject's own data read
// whole (purpose-bound fields included), a withdrawal through the session that the next
// read for that purpose is refused by, and the access list: a staff read with its purpose
// and role, an operator's read under a support grant, never the subject's own acts.
func TestPrivacySelf(t *testing.T, h Harness) {
	e := newRequestEnv(t, h)
	a, b := e.newTenant("Fjord Travel AS"), e.newTenant("Vistula Clinic")
	ctx := e.as(a, "")
	_, err := e.db.PutPurpose(ctx, &skjold.Purpose{Name: "newsletter", LegalBasis: skjold.BasisConsent, Notice: "One letter a month."})
	must(t, err)
	_, err = e.db.PutCategory(ctx, &skjold.Category{Name: "booking", LegalBasis: skjold.BasisContract, Purposes: []string{"contract"},
		Retention: skjold.Retention{Period: "P2Y", From: skjold.RetentionFromCreated},
		Fields:    []skjold.Field{{Name: "trip", Type: skjold.TypeString}, {Name: "diet", Type: skjold.TypeString, Purposes: []string{"catering"}}}})
	must(t, err)
	s := e.newSubject(ctx, &skjold.Subject{Name: "Kari", Email: "kari@example.com"})
	e.newRecord(ctx, s.ID, "booking", map[string]any{"trip": "Lofoten", "diet": "vegan"})
	must(t, e.db.RecordConsent(ctx, &skjold.Consent{SubjectID: s.ID, Purpose: "newsletter", Granted: true, Source: skjold.SourceAPI}))
	agent, _ := e.newUser(e.tenantOwner(a.ID), &skjold.User{TenantID: a.ID, Role: skjold.RoleAgent, Email: "agent@fjord.example", Name: "Agent Smith"})
	support, _ := e.newUser(e.staff(), &skjold.User{Role: skjold.RoleSupport, Email: "support@op.example", Name: "Sam Support"})
	files, _ := filepath.Glob(filepath.Join(e.outbox, "*.eml"))
	for _, f := range files {
		os.Remove(f) // the accounts' own e-mails
	}

	// an unknown address: an id all the same, and no e-mail, no audit event
	seq := e.lastSeq()
	unknown, err := e.db.StartSubjectLogin(t.Context(), a.ID, skjold.SubjectLookup{Email: "nobody@example.com"}, "en")
	if err != nil || !skjold.ValidID(unknown) {
		t.Fatalf("unknown address: %q, %v", unknown, err)
	}
	time.Sleep(50 * time.Millisecond)
	if files, _ := filepath.Glob(filepath.Join(e.outbox, "*.eml")); len(files) != 0 || e.lastSeq() != seq {
		t.Fatalf("an unknown address got %d e-mails and %d audit events", len(files), e.lastSeq()-seq)
	}
	_, err = e.db.StartSubjectLogin(t.Context(), a.ID, skjold.SubjectLookup{Email: "not-an-address"}, "en")
	wantCode(t, err, skjold.EINVALID)
	_, err = e.db.StartSubjectLogin(t.Context(), a.ID, skjold.SubjectLookup{Email: s.Email, Phone: "+4712345678"}, "en")
	wantCode(t, err, skjold.EINVALID)

	// a known address: the code goes to the address on file; wrong codes count, the fifth voids it
	id, err := e.db.StartSubjectLogin(t.Context(), a.ID, skjold.SubjectLookup{Email: "KARI@example.com"}, "nb")
	must(t, err)
	code := e.requestCode(s.Email)
	_, err = e.db.VerifySubjectLogin(t.Context(), a.ID, unknown, code)
	wantCode(t, err, skjold.EINVALID)
	_, err = e.db.VerifySubjectLogin(t.Context(), b.ID, id, code) // another tenant's page
	wantCode(t, err, skjold.EINVALID)
	for i := range 5 {
		_, err = e.db.VerifySubjectLogin(t.Context(), a.ID, id, wrong(code))
		if i < 4 {
			wantCode(t, err, skjold.EINVALID)
		}
	}
	wantCode(t, err, skjold.ETOOMANY)
	_, err = e.db.VerifySubjectLogin(t.Context(), a.ID, id, code)
	wantCode(t, err, skjold.ETOOMANY)

	// an expired code
	id, err = e.db.StartSubjectLogin(t.Context(), a.ID, skjold.SubjectLookup{Email: s.Email}, "en")
	must(t, err)
	code = e.requestCode(s.Email)
	e.clock.Add(16 * time.Minute)
	_, err = e.db.VerifySubjectLogin(t.Context(), a.ID, id, code)
	wantCode(t, err, skjold.ECONFLICT)

	// a right code opens a session of 15 minutes, for this tenant only
	id, err = e.db.StartSubjectLogin(t.Context(), a.ID, skjold.SubjectLookup{Email: s.Email}, "en")
	must(t, err)
	secret, err := e.db.VerifySubjectLogin(t.Context(), a.ID, id, e.requestCode(s.Email))
	must(t, err)
	_, err = e.db.VerifySubjectLogin(t.Context(), a.ID, id, code) // used
	wantCode(t, err, skjold.EINVALID)
	if n := e.rawCount(e.raw(), "SELECT COUNT(*) FROM subject_logins WHERE session_hash = ?", []byte(secret)); n != 0 {
		t.Error("the session secret is stored in clear")
	}
	_, _, err = e.db.SubjectSession(t.Context(), b.ID, secret)
	wantCode(t, err, skjold.ENOTFOUND)
	sctx, sid, err := e.db.SubjectSession(t.Context(), a.ID, secret)
	if err != nil || sid != s.ID || skjold.CallerFromContext(sctx).Actor != "subject:"+s.ID {
		t.Fatalf("session: %q, %v", sid, err)
	}

	// the subject's own data, whole
	d, err := e.db.SubjectData(sctx, s.ID)
	must(t, err)
	if recs := d.Records["booking"]; len(recs) != 1 || recs[0].Data["diet"] != "vegan" || d.Subject.Email != s.Email {
		t.Errorf("own data: %+v", d.Records)
	}

	// staff read for the purpose, then the subject withdraws: the next read for it is refused
	staffCtx := e.person(agent)
	skjold.CallerFromContext(staffCtx).Purpose = "newsletter"
	_, err = e.db.FindSubjectByID(staffCtx, s.ID)
	must(t, err)
	opCtx := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "user:" + support.ID, UserID: support.ID,
		TenantID: a.ID, Scopes: []string{skjold.ScopeRead}, Source: "127.0.0.1"})
	_, err = e.db.FindSubjectByID(opCtx, s.ID)
	must(t, err)
	must(t, e.db.RecordConsent(sctx, &skjold.Consent{SubjectID: s.ID, Purpose: "newsletter", Granted: false, Source: skjold.SourcePortal}))
	_, err = e.db.FindSubjectByID(staffCtx, s.ID)
	wantCode(t, err, skjold.EFORBIDDEN)
	var withdrawn *skjold.AuditEvent
	for _, ev := range e.events(seq) {
		if ev.Action == "consent.withdraw" {
			withdrawn = ev
		}
	}
	if withdrawn == nil || withdrawn.Actor != "subject:"+s.ID {
		t.Errorf("the withdrawal's audit event: %+v", withdrawn)
	}

	// the access list: newest first, others only, staff by role, the operator as such
	list, err := e.db.SubjectAccessLog(t.Context(), a.ID, s.ID, 0, 100)
	must(t, err)
	var staffRead, opRead *skjold.SubjectAccess
	for _, x := range list {
		if x.Accessor == skjold.AccessorSubject {
			t.Errorf("the subject's own act is listed: %+v", x)
		}
		if x.Action == "subject.read" && x.Accessor == skjold.AccessorStaff && staffRead == nil {
			staffRead = x
		}
		if x.Action == "subject.read" && x.Accessor == skjold.AccessorOperator {
			opRead = x
		}
	}
	if staffRead == nil || staffRead.Purpose != "newsletter" || staffRead.Role != skjold.RoleAgent {
		t.Errorf("the staff read: %+v", staffRead)
	}
	if opRead == nil {
		t.Error("the operator's read is not listed as such")
	}
	if !slices.IsSortedFunc(list, func(x, y *skjold.SubjectAccess) int { return int(y.Seq - x.Seq) }) {
		t.Error("the list is not newest first")
	}
	page, err := e.db.SubjectAccessLog(t.Context(), a.ID, s.ID, list[1].Seq, 1)
	if err != nil || len(page) != 1 || page[0].Seq != list[2].Seq {
		t.Errorf("the next page: %+v, %v", page, err)
	}
	if other, err := e.db.SubjectAccessLog(t.Context(), b.ID, s.ID, 0, 100); err != nil || len(other) != 0 {
		t.Errorf("another tenant's list: %d, %v", len(other), err)
	}

	// logout ends the session; so does time
	must(t, e.db.EndSubjectSession(t.Context(), a.ID, secret))
	_, _, err = e.db.SubjectSession(t.Context(), a.ID, secret)
	wantCode(t, err, skjold.ENOTFOUND)
	id, err = e.db.StartSubjectLogin(t.Context(), a.ID, skjold.SubjectLookup{Email: s.Email}, "en")
	must(t, err)
	secret, err = e.db.VerifySubjectLogin(t.Context(), a.ID, id, e.requestCode(s.Email))
	must(t, err)
	e.clock.Add(skjold.SubjectSessionLifetime)
	_, _, err = e.db.SubjectSession(t.Context(), a.ID, secret)
	wantCode(t, err, skjold.ENOTFOUND)

	// at most five codes an hour per subject; the sixth answer is alike, with no e-mail
	e.clock.Add(2 * time.Hour)
	for i := range 6 {
		_, err := e.db.StartSubjectLogin(t.Context(), a.ID, skjold.SubjectLookup{Email: s.Email}, "en")
		must(t, err)
		if i < 5 {
			e.requestCode(s.Email)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if files, _ := filepath.Glob(filepath.Join(e.outbox, "*.eml")); len(files) != 0 {
		t.Errorf("a sixth code within the hour was mailed")
	}
}

// wrong returns a code that is not code.
func wrong(code string) string {
	if code == "00000000" {
		return "11111111"
	}
	return "00000000"
}
