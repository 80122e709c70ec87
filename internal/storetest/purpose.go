package storetest

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestPurposes checks the skjold.PurposeService: the purpose register and its notice
// versions, consent as evidence, restriction and objection enforced on reads and writes,
// and the contact guard with its frequency cap.
func TestPurposes(t *testing.T, h Harness) {
	t.Run("Templates", func(t *testing.T) { testPurposeTemplates(t, h) })
	t.Run("NoticeVersions", func(t *testing.T) { testNoticeVersions(t, h) })
	t.Run("Invalid", func(t *testing.T) { testPurposeInvalid(t, h) })
	t.Run("ConsentHistory", func(t *testing.T) { testConsentHistory(t, h) })
	t.Run("Withdrawal", func(t *testing.T) { testConsentWithdrawal(t, h) })
	t.Run("RestrictedReads", func(t *testing.T) { testRestrictedReads(t, h) })
	t.Run("RestrictedWrites", func(t *testing.T) { testRestrictedWrites(t, h) })
	t.Run("Objection", func(t *testing.T) { testObjection(t, h) })
	t.Run("UpdateAnswers", func(t *testing.T) { testUpdateAnswers(t, h) })
	t.Run("ContactReasons", func(t *testing.T) { testContactReasons(t, h) })
	t.Run("ContactCap", func(t *testing.T) { testContactCap(t, h) })
	t.Run("ContactCapConcurrent", func(t *testing.T) { testContactCapConcurrent(t, h) })
	t.Run("TenantIsolation", func(t *testing.T) { testPurposeIsolation(t, h) })
}

// purposeMap returns the register by name.
func purposeMap(t *testing.T, e *env, tn *tenant) map[string]*skjold.Purpose {
	t.Helper()
	ps, err := e.db.FindPurposes(e.as(tn, ""))
	must(t, err)
	m := map[string]*skjold.Purpose{}
	for _, p := range ps {
		m[p.Name] = p
	}
	return m
}

func testPurposeTemplates(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ps, err := e.db.FindPurposes(e.as(tn, ""))
	must(t, err)
	if !slices.IsSortedFunc(ps, func(a, b *skjold.Purpose) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("purposes are not ordered by name")
	}
	m := purposeMap(t, e, tn)
	for _, cat := range skjold.Templates() {
		for _, name := range cat.Purposes {
			if m[name] == nil {
				t.Errorf("category %s names purpose %s, which is not registered", cat.Name, name)
			}
		}
	}
	for name, basis := range map[string]string{"contract": skjold.BasisContract, "accounting": skjold.BasisLegalObligation,
		"credit_check": skjold.BasisLegitimateInterest, "answer_enquiry": skjold.BasisLegitimateInterest,
		"newsletter": skjold.BasisConsent, skjold.PurposeLegalClaims: skjold.BasisLegalObligation} {
		if p := m[name]; p == nil || p.LegalBasis != basis {
			t.Errorf("purpose %s = %+v, want basis %s", name, p, basis)
		}
	}
	nl := m["newsletter"]
	if nl == nil || nl.NoticeVersion != 1 || nl.Notice == "" || !slices.Equal(nl.Channels, []string{skjold.ChannelEmail}) ||
		nl.Cap == nil || *nl.Cap != (skjold.FrequencyCap{Max: 12, Period: "P1Y"}) || !nl.UpdatedAt.Equal(epoch) {
		t.Errorf("newsletter = %+v", nl)
	}
}

func testNoticeVersions(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	put := func(notice string, wantCreated bool, wantVersion int) {
		t.Helper()
		p := &skjold.Purpose{Name: "offers", LegalBasis: skjold.BasisConsent, Notice: notice, Channels: []string{skjold.ChannelSMS}}
		created, err := e.db.PutPurpose(ctx, p)
		must(t, err)
		if created != wantCreated || p.NoticeVersion != wantVersion {
			t.Fatalf("PutPurpose(%q): created %v version %d, want %v %d", notice, created, p.NoticeVersion, wantCreated, wantVersion)
		}
		got := purposeMap(t, e, tn)["offers"]
		if got.Notice != notice || got.NoticeVersion != wantVersion || !slices.Equal(got.Channels, p.Channels) {
			t.Fatalf("offers reads back as %+v", got)
		}
	}
	seq := e.lastSeq()
	put("Offers by SMS, version one.", true, 1)
	e.clock.Add(time.Hour)
	put("Offers by SMS, version one.", false, 1) // unchanged text keeps its version
	put("Offers by SMS, now weekly.", false, 2)
	put("Offers by SMS, version one.", false, 3) // going back is a change too
	if n := e.rawCount(e.raw(), "SELECT COUNT(*) FROM purpose_notices WHERE purpose = ?", "offers"); n != 3 {
		t.Errorf("%d notice versions stored, want 3", n)
	}
	var actions []string
	for _, ev := range e.events(seq) {
		actions = append(actions, ev.Action+" "+strings.Join(ev.Fields, ","))
	}
	want := []string{"purpose.create purpose:offers", "purpose.update purpose:offers", "purpose.update purpose:offers", "purpose.update purpose:offers"}
	if !slices.Equal(actions, want) {
		t.Errorf("audit %v, want %v", actions, want)
	}
}

func testPurposeInvalid(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	good := func() *skjold.Purpose {
		return &skjold.Purpose{Name: "offers", LegalBasis: skjold.BasisConsent, Notice: "Offers.",
			Channels: []string{skjold.ChannelEmail}, Cap: &skjold.FrequencyCap{Max: 4, Period: "P1M"}}
	}
	for _, c := range []struct {
		name, field string
		edit        func(p *skjold.Purpose)
	}{
		{"bad name", "name", func(p *skjold.Purpose) { p.Name = "Offers!" }},
		{"empty name", "name", func(p *skjold.Purpose) { p.Name = "" }},
		{"bad basis", "legal_basis", func(p *skjold.Purpose) { p.LegalBasis = "whim" }},
		{"consent without notice", "notice", func(p *skjold.Purpose) { p.Notice = " " }},
		{"notice too long", "notice", func(p *skjold.Purpose) { p.Notice = strings.Repeat("x", skjold.MaxNotice+1) }},
		{"notice with control", "notice", func(p *skjold.Purpose) { p.Notice = "a\x00b" }},
		{"description too long", "description", func(p *skjold.Purpose) { p.Description = strings.Repeat("x", 1001) }},
		{"bad channel", "channels", func(p *skjold.Purpose) { p.Channels = []string{"pigeon"} }},
		{"duplicate channel", "channels", func(p *skjold.Purpose) { p.Channels = []string{"email", "email"} }},
		{"cap zero", "cap", func(p *skjold.Purpose) { p.Cap.Max = 0 }},
		{"cap too large", "cap", func(p *skjold.Purpose) { p.Cap.Max = 10001 }},
		{"cap period", "cap", func(p *skjold.Purpose) { p.Cap.Period = "1 year" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			seq := e.lastSeq()
			p := good()
			c.edit(p)
			_, err := e.db.PutPurpose(ctx, p)
			wantCode(t, err, skjold.EINVALID)
			if f := err.(*skjold.Error).Field; f != c.field {
				t.Errorf("field %q, want %q", f, c.field)
			}
			if purposeMap(t, e, tn)["offers"] != nil || e.lastSeq() != seq {
				t.Errorf("the refused purpose changed the register or the audit")
			}
		})
	}
	s := e.newSubject(ctx, anna())
	before := e.lastSeq()
	for _, c := range []struct {
		cs   skjold.Consent
		code string
	}{
		{skjold.Consent{SubjectID: s.ID, Purpose: "newsletter", Granted: true, Source: "fax"}, skjold.EINVALID},
		{skjold.Consent{SubjectID: s.ID, Purpose: "Newsletter", Granted: true, Source: "api"}, skjold.EINVALID},
		{skjold.Consent{SubjectID: s.ID, Purpose: "unregistered", Granted: true, Source: "api"}, skjold.ENOTFOUND},
		{skjold.Consent{SubjectID: "nope", Purpose: "newsletter", Granted: true, Source: "api"}, skjold.ENOTFOUND},
		{skjold.Consent{SubjectID: newIDLike(s.ID), Purpose: "newsletter", Granted: true, Source: "api"}, skjold.ENOTFOUND},
	} {
		wantCode(t, e.db.RecordConsent(ctx, &c.cs), c.code)
	}
	for _, cc := range []skjold.ContactCheck{
		{SubjectID: s.ID, Purpose: "newsletter", Channel: "pigeon"},
		{SubjectID: s.ID, Purpose: "", Channel: "email"},
	} {
		wantCode(t, e.db.CheckContact(ctx, &cc), skjold.EINVALID)
	}
	wantCode(t, e.db.CheckContact(ctx, &skjold.ContactCheck{SubjectID: s.ID, Purpose: "unregistered", Channel: "email"}), skjold.ENOTFOUND)
	wantCode(t, e.db.SetRestriction(ctx, newIDLike(s.ID), true), skjold.ENOTFOUND)
	wantCode(t, e.db.SetObjection(ctx, "x", true), skjold.ENOTFOUND)
	if e.lastSeq() != before || e.rawCount(e.raw(), "SELECT COUNT(*) FROM consents") != 0 {
		t.Errorf("refused calls changed the audit or stored consents")
	}
}

// newIDLike returns an id of the right shape that names nothing.
func newIDLike(id string) string { return id[:len(id)-4] + "0000" }

func testConsentHistory(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, anna())
	seq := e.lastSeq()
	grant := &skjold.Consent{SubjectID: s.ID, Purpose: "newsletter", Granted: true, Source: skjold.SourcePortal}
	must(t, e.db.RecordConsent(ctx, grant))
	if !skjold.ValidID(grant.ID) || grant.NoticeVersion != 1 || !grant.CreatedAt.Equal(epoch) {
		t.Fatalf("recorded consent %+v", grant)
	}
	e.clock.Add(time.Hour)
	nl := purposeMap(t, e, tn)["newsletter"]
	nl.Notice = "A new newsletter notice."
	_, err := e.db.PutPurpose(ctx, nl)
	must(t, err)
	e.clock.Add(time.Hour)
	withdraw := &skjold.Consent{SubjectID: s.ID, Purpose: "newsletter", Granted: false, Source: skjold.SourceRequest}
	must(t, e.db.RecordConsent(ctx, withdraw))

	got, err := e.db.FindConsents(ctx, s.ID)
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("history has %d entries, want 2", len(got))
	}
	first, second := got[0], got[1]
	if first.ID != grant.ID || !first.Granted || first.Source != "portal" || first.NoticeVersion != 1 ||
		!strings.Contains(first.Notice, "newsletter by e-mail") || !first.CreatedAt.Equal(epoch) {
		t.Errorf("first entry %+v", first)
	}
	if second.Granted || second.Source != "request" || second.NoticeVersion != 2 || second.Notice != "A new newsletter notice." ||
		!second.CreatedAt.Equal(epoch.Add(2*time.Hour)) {
		t.Errorf("second entry %+v", second)
	}
	var actions []string
	for _, ev := range e.events(seq) {
		if ev.SubjectID == s.ID {
			actions = append(actions, ev.Action+" "+strings.Join(ev.Fields, ","))
		}
	}
	want := []string{"consent.grant purpose:newsletter", "consent.withdraw purpose:newsletter", "consent.read "}
	if !slices.Equal(actions, want) {
		t.Errorf("audit %v, want %v", actions, want)
	}
	_, err = e.db.FindConsents(ctx, newIDLike(s.ID))
	wantCode(t, err, skjold.ENOTFOUND)
}

func testConsentWithdrawal(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	s := e.newSubject(e.as(tn, ""), anna())
	rec := e.newRecord(e.as(tn, ""), s.ID, "contact", map[string]any{"city": "Oslo"})
	nl := e.as(tn, "newsletter")
	reads := func(want string) {
		t.Helper()
		_, err := e.db.FindSubjectByID(nl, s.ID)
		wantCode(t, err, want)
		_, err = e.db.FindRecordByID(nl, rec.ID)
		wantCode(t, err, want)
	}
	reads(skjold.EFORBIDDEN) // no consent yet
	must(t, e.db.RecordConsent(nl, &skjold.Consent{SubjectID: s.ID, Purpose: "newsletter", Granted: true, Source: "api"}))
	reads("")
	must(t, e.db.RecordConsent(nl, &skjold.Consent{SubjectID: s.ID, Purpose: "newsletter", Granted: false, Source: "api"}))
	reads(skjold.EFORBIDDEN) // at once
	list, err := e.db.FindSubjects(nl, skjold.SubjectFilter{})
	must(t, err)
	if len(list) != 1 || list[0].Email != "" || list[0].Name != "" || !slices.Contains(list[0].Withheld, "email") {
		t.Errorf("listed without consent: %+v", list)
	}
	// Purposes on other bases, and unregistered ones, are not affected.
	for _, p := range []string{"", "contract", "not_registered"} {
		_, err := e.db.FindSubjectByID(e.as(tn, p), s.ID)
		wantCode(t, err, "")
	}
}

func testRestrictedReads(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, anna())
	e.newSubject(ctx, &skjold.Subject{Name: "Bo"})
	rec := e.newRecord(ctx, s.ID, "contact", map[string]any{"city": "Oslo"})
	seq := e.lastSeq()
	must(t, e.db.SetRestriction(ctx, s.ID, true))
	if evs := e.events(seq); len(evs) != 1 || evs[0].Action != "subject.restrict" || evs[0].SubjectID != s.ID {
		t.Errorf("audit %+v", evs)
	}
	for _, p := range []string{"", "contract", "credit_check"} {
		c := e.as(tn, p)
		_, err := e.db.FindSubjectByID(c, s.ID)
		wantCode(t, err, skjold.EFORBIDDEN)
		if !strings.Contains(skjold.ErrorMessage(err), skjold.PurposeLegalClaims) {
			t.Errorf("refusal %q does not name legal_claims", skjold.ErrorMessage(err))
		}
		_, err = e.db.FindRecordByID(c, rec.ID)
		wantCode(t, err, skjold.EFORBIDDEN)
		_, err = e.db.FindRecords(c, skjold.RecordFilter{SubjectID: s.ID})
		wantCode(t, err, skjold.EFORBIDDEN)
		_, err = e.db.FindConsents(c, s.ID)
		wantCode(t, err, skjold.EFORBIDDEN)
	}
	list, err := e.db.FindSubjects(ctx, skjold.SubjectFilter{})
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("listed %d subjects", len(list))
	}
	for _, got := range list {
		restricted := got.ID == s.ID
		if got.Restricted != restricted || (restricted && (len(got.Values()) != 0 ||
			!slices.Equal(got.Withheld, []string{"birth_date", "email", "name", "phone", "ref"}))) || (!restricted && got.Name != "Bo") {
			t.Errorf("listed %+v", got)
		}
	}
	legal := e.as(tn, skjold.PurposeLegalClaims)
	got, err := e.db.FindSubjectByID(legal, s.ID)
	must(t, err)
	if !got.Restricted || got.Email == "" {
		t.Errorf("read for legal claims: %+v", got)
	}
	_, err = e.db.FindRecordByID(legal, rec.ID)
	must(t, err)
	must(t, e.db.SetRestriction(ctx, s.ID, false))
	got, err = e.db.FindSubjectByID(ctx, s.ID)
	must(t, err)
	if got.Restricted || got.Email == "" {
		t.Errorf("after lifting: %+v", got)
	}
}

func testRestrictedWrites(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, anna())
	rec := e.newRecord(ctx, s.ID, "contact", map[string]any{"city": "Oslo"})
	must(t, e.db.SetRestriction(ctx, s.ID, true))
	must(t, e.db.SetRestriction(ctx, s.ID, true)) // again: still restricted, once
	seq := e.lastSeq()
	_, err := e.db.UpdateSubject(ctx, s.ID, skjold.SubjectUpdate{Name: ptr("Changed")})
	wantCode(t, err, skjold.ECONFLICT)
	err = e.db.CreateRecord(ctx, &skjold.Record{SubjectID: s.ID, Category: "contact", Data: map[string]any{"city": "Bergen"}})
	wantCode(t, err, skjold.ECONFLICT)
	_, err = e.db.UpdateRecord(ctx, rec.ID, map[string]any{"city": "Bergen"})
	wantCode(t, err, skjold.ECONFLICT)
	wantCode(t, e.db.DeleteRecord(ctx, rec.ID), skjold.ECONFLICT)
	wantCode(t, e.db.RecordConsent(ctx, &skjold.Consent{SubjectID: s.ID, Purpose: "newsletter", Granted: true, Source: "api"}), skjold.ECONFLICT)
	if e.lastSeq() != seq {
		t.Errorf("refused writes changed the audit")
	}
	legal := e.as(tn, skjold.PurposeLegalClaims)
	got, err := e.db.FindRecordByID(legal, rec.ID)
	must(t, err)
	if got.Data["city"] != "Oslo" || e.rawCount(e.raw(), "SELECT COUNT(*) FROM records WHERE subject_id = ?", s.ID) != 1 {
		t.Errorf("the record changed: %+v", got.Data)
	}
	// A withdrawal stays possible, and lifting the restriction lets writes through again.
	must(t, e.db.RecordConsent(ctx, &skjold.Consent{SubjectID: s.ID, Purpose: "newsletter", Granted: false, Source: "request"}))
	must(t, e.db.SetRestriction(ctx, s.ID, false))
	_, err = e.db.UpdateSubject(ctx, s.ID, skjold.SubjectUpdate{Name: ptr("Changed")})
	must(t, err)
}

func testObjection(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, anna())
	rec := e.newRecord(ctx, s.ID, "contact", map[string]any{"city": "Oslo"})
	seq := e.lastSeq()
	must(t, e.db.SetObjection(ctx, s.ID, true))
	for _, c := range []struct {
		purpose, code string
	}{
		{"customer_service", skjold.EFORBIDDEN}, // legitimate interest
		{"credit_check", skjold.EFORBIDDEN},
		{"contract", ""},
		{"accounting", ""},
		{"", ""},
		{"not_registered", ""},
	} {
		got, err := e.db.FindSubjectByID(e.as(tn, c.purpose), s.ID)
		wantCode(t, err, c.code)
		if err == nil && !got.Objected {
			t.Errorf("%s: Objected not set", c.purpose)
		}
		_, err = e.db.FindRecordByID(e.as(tn, c.purpose), rec.ID)
		wantCode(t, err, c.code)
	}
	// Objection stops processing, not changes: writes go on.
	_, err := e.db.UpdateSubject(ctx, s.ID, skjold.SubjectUpdate{Name: ptr("Changed")})
	must(t, err)
	must(t, e.db.SetObjection(ctx, s.ID, false))
	_, err = e.db.FindSubjectByID(e.as(tn, "customer_service"), s.ID)
	must(t, err)
	var actions []string
	for _, ev := range e.events(seq) {
		if strings.HasPrefix(ev.Action, "subject.") && ev.Action != "subject.read" {
			actions = append(actions, ev.Action)
		}
	}
	if want := []string{"subject.object", "subject.update", "subject.unobject"}; !slices.Equal(actions, want) {
		t.Errorf("audit %v, want %v", actions, want)
	}
}

// testUpdateAnswers checks that the answer to a change follows the read rules: under a
// purpose the subject has not consented to, or objected to, a change comes back without
// the values it did not write, as a read would.
func testUpdateAnswers(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, anna())
	rec := e.newRecord(ctx, s.ID, "contact", map[string]any{"city": "Oslo", "address": "Storgata 1"})
	must(t, e.db.SetObjection(ctx, s.ID, true))
	for _, p := range []string{"newsletter", "customer_service"} { // no consent; objected
		c := e.as(tn, p)
		_, err := e.db.FindSubjectByID(c, s.ID)
		wantCode(t, err, skjold.EFORBIDDEN)
		got, err := e.db.UpdateSubject(c, s.ID, skjold.SubjectUpdate{Name: ptr("Anna B. Berg")})
		must(t, err)
		if got.Email != "" || got.Phone != "" || got.Name != "" || !slices.Contains(got.Withheld, "email") {
			t.Errorf("%s: the update answered %+v", p, got)
		}
		r, err := e.db.UpdateRecord(c, rec.ID, map[string]any{"city": "Bergen"})
		must(t, err)
		if len(r.Data) != 0 || !slices.Contains(r.Withheld, "address") {
			t.Errorf("%s: the update answered %+v (withheld %v)", p, r.Data, r.Withheld)
		}
	}
	got, err := e.db.UpdateSubject(e.as(tn, "contract"), s.ID, skjold.SubjectUpdate{Name: ptr("Anna Berg")})
	must(t, err)
	if got.Email == "" || got.Name != "Anna Berg" {
		t.Errorf("contract: the update answered %+v", got)
	}
}

// grantNewsletter records a newsletter consent.
func grantNewsletter(t *testing.T, e *env, tn *tenant, subjectID string) {
	t.Helper()
	must(t, e.db.RecordConsent(e.as(tn, ""), &skjold.Consent{SubjectID: subjectID, Purpose: "newsletter", Granted: true, Source: "api"}))
}

func testContactReasons(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	_, err := e.db.PutPurpose(ctx, &skjold.Purpose{Name: "service_calls", LegalBasis: skjold.BasisLegitimateInterest,
		Channels: []string{skjold.ChannelPhone, skjold.ChannelSMS}})
	must(t, err)
	withEmail := e.newSubject(ctx, anna())
	grantNewsletter(t, e, tn, withEmail.ID)
	noAddress := e.newSubject(ctx, &skjold.Subject{Name: "Bo"})
	grantNewsletter(t, e, tn, noAddress.ID)
	noConsent := e.newSubject(ctx, &skjold.Subject{Email: "c@example.com"})
	withdrawn := e.newSubject(ctx, &skjold.Subject{Email: "d@example.com"})
	grantNewsletter(t, e, tn, withdrawn.ID)
	must(t, e.db.RecordConsent(ctx, &skjold.Consent{SubjectID: withdrawn.ID, Purpose: "newsletter", Source: "portal"}))
	restricted := e.newSubject(ctx, &skjold.Subject{Email: "e@example.com", Phone: "+4791234568"})
	grantNewsletter(t, e, tn, restricted.ID)
	must(t, e.db.SetRestriction(ctx, restricted.ID, true))
	objected := e.newSubject(ctx, &skjold.Subject{Email: "f@example.com", Phone: "+4791234569"})
	must(t, e.db.SetObjection(ctx, objected.ID, true))

	for _, c := range []struct {
		name, subject, purpose, channel string
		want                            []string
	}{
		{"allowed", withEmail.ID, "newsletter", "email", []string{}},
		{"channel not used", withEmail.ID, "newsletter", "sms", []string{"channel_not_allowed"}},
		{"purpose contacts nobody", withEmail.ID, "contract", "email", []string{"channel_not_allowed"}},
		{"no address", noAddress.ID, "newsletter", "email", []string{"no_address"}},
		{"no consent", noConsent.ID, "newsletter", "email", []string{"no_consent"}},
		{"withdrawn", withdrawn.ID, "newsletter", "email", []string{"no_consent"}},
		{"restricted", restricted.ID, "newsletter", "email", []string{"restricted"}},
		{"objected, legitimate interest", objected.ID, "service_calls", "sms", []string{"objected"}},
		{"objected, consent basis", objected.ID, "newsletter", "email", []string{"no_consent"}},
		{"legitimate interest", withEmail.ID, "service_calls", "phone", []string{}},
		{"no phone", noConsent.ID, "service_calls", "sms", []string{"no_address"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			seq := e.lastSeq()
			cc := &skjold.ContactCheck{SubjectID: c.subject, Purpose: c.purpose, Channel: c.channel, Record: true}
			must(t, e.db.CheckContact(ctx, cc))
			if cc.Allowed != (len(c.want) == 0) || !slices.Equal(cc.Reasons, c.want) {
				t.Errorf("allowed %v reasons %v, want %v", cc.Allowed, cc.Reasons, c.want)
			}
			evs := e.events(seq)
			wantFields := []string{"purpose:" + c.purpose, "channel:" + c.channel, "allowed:" + map[bool]string{true: "true", false: "false"}[cc.Allowed]}
			if len(evs) != 1 || evs[0].Action != "contact.check" || evs[0].SubjectID != c.subject || !slices.Equal(evs[0].Fields, wantFields) {
				t.Errorf("audit %+v", evs)
			}
		})
	}
	if n := e.rawCount(e.raw(), "SELECT COUNT(*) FROM contact_sends"); n != 2 {
		t.Errorf("%d sends recorded, want 2 (the allowed checks)", n)
	}
}

func testContactCap(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, anna())
	grantNewsletter(t, e, tn, s.ID)
	check := func(record bool) *skjold.ContactCheck {
		t.Helper()
		cc := &skjold.ContactCheck{SubjectID: s.ID, Purpose: "newsletter", Channel: "email", Record: record}
		must(t, e.db.CheckContact(ctx, cc))
		return cc
	}
	for i := 1; i <= 12; i++ {
		if cc := check(false); !cc.Allowed || cc.Sent != i-1 {
			t.Fatalf("check before send %d: %+v", i, cc)
		}
		if cc := check(true); !cc.Allowed || cc.Sent != i {
			t.Fatalf("send %d: %+v", i, cc)
		}
		e.clock.Add(24 * time.Hour)
	}
	if cc := check(true); cc.Allowed || !slices.Equal(cc.Reasons, []string{"cap_reached"}) || cc.Sent != 12 {
		t.Fatalf("13th send within a year: %+v", cc)
	}
	// A year after the first send, one slot is free again.
	e.clock.Add(365*24*time.Hour - 12*24*time.Hour + time.Minute)
	if cc := check(true); !cc.Allowed || cc.Sent != 12 {
		t.Fatalf("a year after the first send: %+v", cc)
	}
	if cc := check(true); cc.Allowed {
		t.Fatalf("the freed slot was given twice: %+v", cc)
	}
	if n := e.rawCount(e.raw(), "SELECT COUNT(*) FROM contact_sends WHERE subject_id = ?", s.ID); n != 13 {
		t.Errorf("%d sends stored, want 13", n)
	}
}

func testContactCapConcurrent(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, anna())
	grantNewsletter(t, e, tn, s.ID)
	for range 9 {
		must(t, e.db.CheckContact(ctx, &skjold.ContactCheck{SubjectID: s.ID, Purpose: "newsletter", Channel: "email", Record: true}))
	}
	const n = 20
	var wg sync.WaitGroup
	results := make(chan bool, n)
	for range n {
		wg.Go(func() {
			cc := &skjold.ContactCheck{SubjectID: s.ID, Purpose: "newsletter", Channel: "email", Record: true}
			if err := e.db.CheckContact(ctx, cc); err != nil {
				t.Error(err)
			}
			results <- cc.Allowed
		})
	}
	wg.Wait()
	close(results)
	allowed := 0
	for ok := range results {
		if ok {
			allowed++
		}
	}
	if allowed != 3 {
		t.Errorf("%d of %d parallel checks allowed, want the 3 slots left", allowed, n)
	}
	if got := e.rawCount(e.raw(), "SELECT COUNT(*) FROM contact_sends WHERE subject_id = ?", s.ID); got != 12 {
		t.Errorf("%d sends stored, want 12", got)
	}
}

func testPurposeIsolation(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("Tenant A"), e.newTenant("Tenant B")
	s := e.newSubject(e.as(a, ""), anna())
	cb := e.as(b, "")
	_, err := e.db.PutPurpose(cb, &skjold.Purpose{Name: "b_only", LegalBasis: skjold.BasisContract})
	must(t, err)
	if purposeMap(t, e, a)["b_only"] != nil || purposeMap(t, e, b)["b_only"] == nil {
		t.Errorf("tenant B's purpose leaked or is missing")
	}
	seq := e.lastSeq()
	wantCode(t, e.db.RecordConsent(cb, &skjold.Consent{SubjectID: s.ID, Purpose: "newsletter", Granted: true, Source: "api"}), skjold.ENOTFOUND)
	_, err = e.db.FindConsents(cb, s.ID)
	wantCode(t, err, skjold.ENOTFOUND)
	wantCode(t, e.db.SetRestriction(cb, s.ID, true), skjold.ENOTFOUND)
	wantCode(t, e.db.SetObjection(cb, s.ID, true), skjold.ENOTFOUND)
	wantCode(t, e.db.CheckContact(cb, &skjold.ContactCheck{SubjectID: s.ID, Purpose: "newsletter", Channel: "email", Record: true}), skjold.ENOTFOUND)
	if e.lastSeq() != seq {
		t.Errorf("tenant B's refused calls changed the audit")
	}
	got, err := e.db.FindSubjectByID(e.as(a, ""), s.ID)
	must(t, err)
	if got.Restricted || got.Objected {
		t.Errorf("tenant B changed tenant A's subject: %+v", got)
	}
	_, err = e.db.FindPurposes(e.op)
	wantCode(t, err, skjold.EFORBIDDEN)
}
