package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// Birth dates relative to epoch (2025-03-01).
const (
	adultBorn  = "1980-04-02"
	minorBorn  = "2015-06-01"
	turned18   = "2007-03-01" // 18 on epoch's day
	turns18Tmr = "2007-03-02" // 18 the day after epoch
)

// anna is a subject with every profile value set.
func anna() *skjold.Subject {
	return &skjold.Subject{Ref: "C-1001", Email: "Anna.Berg@Example.com", Phone: "+47 912 34 567",
		Name: "Anna Berg", BirthDate: adultBorn}
}

// TestSubjects checks the skjold.SubjectService: the round trip, lookups through blind
// indexes, purpose-bound values, the input guard, guardians of minors, and tenant isolation.
func TestSubjects(t *testing.T, h Harness) {
	t.Run("RoundTrip", func(t *testing.T) { testSubjectRoundTrip(t, h) })
	t.Run("Lookup", func(t *testing.T) { testSubjectLookup(t, h) })
	t.Run("DuplicateRef", func(t *testing.T) { testSubjectDuplicateRef(t, h) })
	t.Run("PurposeBound", func(t *testing.T) { testSubjectPurposeBound(t, h) })
	t.Run("InputGuard", func(t *testing.T) { testSubjectInputGuard(t, h) })
	t.Run("Invalid", func(t *testing.T) { testSubjectInvalid(t, h) })
	t.Run("Guardians", func(t *testing.T) { testSubjectGuardians(t, h) })
	t.Run("RecordBirthDates", func(t *testing.T) { testRecordBirthDates(t, h) })
	t.Run("LookalikeEmails", func(t *testing.T) { testLookalikeEmails(t, h) })
	t.Run("WrongShapeIDs", func(t *testing.T) { testWrongShapeIDs(t, h) })
	t.Run("TenantIsolation", func(t *testing.T) { testTenantIsolation(t, h) })
	t.Run("Paging", func(t *testing.T) { testSubjectPaging(t, h) })
	t.Run("Callers", func(t *testing.T) { testSubjectCallers(t, h) })
	t.Run("CreateWithRecords", func(t *testing.T) { testCreateWithRecords(t, h) })
	t.Run("IfMatch", func(t *testing.T) { testIfMatch(t, h) })
}

func testSubjectRoundTrip(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "credit_check")
	s := e.newSubject(ctx, anna())
	if !skjold.ValidID(s.ID) || !s.CreatedAt.Equal(epoch) || !s.UpdatedAt.Equal(epoch) {
		t.Fatalf("created subject = %+v", s)
	}
	got, err := e.db.FindSubjectByID(ctx, s.ID)
	must(t, err)
	want := anna()
	want.ID, want.CreatedAt, want.UpdatedAt, want.Withheld = s.ID, epoch, epoch, []string{}
	want.Relationship = skjold.RelationshipActive // the default
	if a, b := mustJSON(t, got), mustJSON(t, want); a != b {
		t.Fatalf("FindSubjectByID =\n%s\nwant\n%s", a, b)
	}

	e.clock.Add(time.Hour)
	upd, err := e.db.UpdateSubject(ctx, s.ID, skjold.SubjectUpdate{Name: ptr("Anna Berg-Lund"), Email: ptr("")})
	must(t, err)
	want.Name, want.Email, want.UpdatedAt = "Anna Berg-Lund", "", epoch.Add(time.Hour)
	if a, b := mustJSON(t, upd), mustJSON(t, want); a != b {
		t.Errorf("UpdateSubject =\n%s\nwant\n%s", a, b)
	}
	got, err = e.db.FindSubjectByID(ctx, s.ID)
	must(t, err)
	if a, b := mustJSON(t, got), mustJSON(t, want); a != b {
		t.Errorf("after update, FindSubjectByID =\n%s\nwant\n%s", a, b)
	}
	found, err := e.db.FindSubjects(ctx, skjold.SubjectFilter{Email: anna().Email})
	must(t, err)
	if len(found) != 0 {
		t.Errorf("the cleared e-mail still finds %d subjects", len(found))
	}

	must(t, e.db.DeleteSubject(ctx, s.ID))
	_, err = e.db.FindSubjectByID(ctx, s.ID)
	wantCode(t, err, skjold.ENOTFOUND)
	_, err = e.db.UpdateSubject(ctx, s.ID, skjold.SubjectUpdate{Name: ptr("x")})
	wantCode(t, err, skjold.ENOTFOUND)
	wantCode(t, e.db.DeleteSubject(ctx, s.ID), skjold.ENOTFOUND)
	found, err = e.db.FindSubjects(ctx, skjold.SubjectFilter{Ref: "C-1001"})
	must(t, err)
	if len(found) != 0 {
		t.Errorf("the erased subject's ref still finds %d subjects", len(found))
	}
}

func testSubjectLookup(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("Tenant A"), e.newTenant("Tenant B")
	ctx := e.as(a, "")
	s := e.newSubject(ctx, anna())
	other := e.newSubject(ctx, &skjold.Subject{Ref: "C-1002", Email: "ola@example.com", Phone: "+47 98765432"})
	e.newSubject(e.as(b, ""), anna()) // the same values in another tenant

	for _, f := range []skjold.SubjectFilter{
		{Email: "Anna.Berg@Example.com"}, {Email: "anna.berg@example.com"}, {Email: "  ANNA.BERG@EXAMPLE.COM "},
		{Phone: "+47 912 34 567"}, {Phone: "+4791234567"}, {Phone: "004791234567"}, {Phone: " 0047 912-34-567"},
		{Ref: "C-1001"}, {Ref: " C-1001 "},
	} {
		found, err := e.db.FindSubjects(ctx, f)
		must(t, err)
		if len(found) != 1 || found[0].ID != s.ID {
			t.Errorf("FindSubjects(%+v) = %d subjects, want only %s", f, len(found), s.ID)
		}
	}
	for _, f := range []skjold.SubjectFilter{
		{Email: "anna.berg@example.org"}, {Phone: "91234567"}, {Phone: "+4791234568"}, {Ref: "C-100"},
	} {
		found, err := e.db.FindSubjects(ctx, f)
		must(t, err)
		if found == nil || len(found) != 0 {
			t.Errorf("FindSubjects(%+v) = %v, want an empty list", f, found)
		}
	}
	found, err := e.db.FindSubjects(ctx, skjold.SubjectFilter{Phone: "0047 987 65 432"})
	must(t, err)
	if len(found) != 1 || found[0].ID != other.ID {
		t.Errorf("lookup by phone found %d subjects, want %s", len(found), other.ID)
	}
	for _, f := range []skjold.SubjectFilter{
		{Email: "anna.berg@example.com", Ref: "C-1001"}, {Phone: "+4791234567", Ref: "C-1001"},
		{Email: "\xff@example.com"}, {Ref: strings.Repeat("r", 4*skjold.MaxTextLength+1)},
	} {
		_, err := e.db.FindSubjects(ctx, f)
		wantCode(t, err, skjold.EINVALID)
	}
}

func testSubjectDuplicateRef(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("Tenant A"), e.newTenant("Tenant B")
	ctx := e.as(a, "")
	first := e.newSubject(ctx, anna())
	for _, ref := range []string{"C-1001", " C-1001"} {
		err := e.db.CreateSubject(ctx, &skjold.Subject{Ref: ref, Name: "Someone Else"})
		wantCode(t, err, skjold.ECONFLICT)
	}
	second := e.newSubject(ctx, &skjold.Subject{Ref: "C-1002"})
	_, err := e.db.UpdateSubject(ctx, second.ID, skjold.SubjectUpdate{Ref: ptr("C-1001")})
	wantCode(t, err, skjold.ECONFLICT)
	got, err := e.db.FindSubjectByID(ctx, second.ID)
	must(t, err)
	if got.Ref != "C-1002" {
		t.Errorf("a refused update changed ref to %q", got.Ref)
	}
	all, err := e.db.FindSubjects(ctx, skjold.SubjectFilter{})
	must(t, err)
	if len(all) != 2 {
		t.Errorf("%d subjects after refused duplicates, want 2", len(all))
	}
	// Refs are unique per tenant only; and a freed ref may be used again.
	e.newSubject(e.as(b, ""), &skjold.Subject{Ref: "C-1001"})
	must(t, e.db.DeleteSubject(ctx, first.ID))
	_, err = e.db.UpdateSubject(ctx, second.ID, skjold.SubjectUpdate{Ref: ptr("C-1001")})
	must(t, err)
	// Subjects without a ref do not collide with each other.
	e.newSubject(ctx, &skjold.Subject{Name: "No Ref 1"})
	e.newSubject(ctx, &skjold.Subject{Name: "No Ref 2"})
}

func testSubjectPurposeBound(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	// The answer to a creation follows the same purpose rules as a read.
	s := e.newSubject(e.as(tn, ""), anna())
	if s.BirthDate != "" || !slices.Equal(s.Withheld, []string{skjold.FieldBirthDate}) {
		t.Errorf("CreateSubject without the purpose returned birth_date %q, withheld %v", s.BirthDate, s.Withheld)
	}
	if s2 := e.newSubject(e.as(tn, "credit_check"), &skjold.Subject{BirthDate: adultBorn}); s2.BirthDate != adultBorn || len(s2.Withheld) != 0 {
		t.Errorf("CreateSubject with the purpose returned birth_date %q, withheld %v", s2.BirthDate, s2.Withheld)
	}
	for _, tc := range []struct {
		purpose string
		shown   bool
	}{{"", false}, {"marketing", false}, {"contract", false}, {"credit_check", true}, {"debt_collection", true}} {
		ctx := e.as(tn, tc.purpose)
		got, err := e.db.FindSubjectByID(ctx, s.ID)
		must(t, err)
		list, err := e.db.FindSubjects(ctx, skjold.SubjectFilter{Ref: s.Ref})
		must(t, err)
		if len(list) != 1 {
			t.Fatalf("FindSubjects found %d subjects", len(list))
		}
		upd, err := e.db.UpdateSubject(ctx, s.ID, skjold.SubjectUpdate{Name: ptr("Anna Berg")})
		must(t, err)
		for name, got := range map[string]*skjold.Subject{"FindSubjectByID": got, "FindSubjects": list[0], "UpdateSubject": upd} {
			if tc.shown && (got.BirthDate != adultBorn || len(got.Withheld) != 0) {
				t.Errorf("%s for purpose %q: birth_date %q, withheld %v; want it shown", name, tc.purpose, got.BirthDate, got.Withheld)
			}
			if !tc.shown && (got.BirthDate != "" || !slices.Equal(got.Withheld, []string{skjold.FieldBirthDate})) {
				t.Errorf("%s for purpose %q: birth_date %q, withheld %v; want it withheld", name, tc.purpose, got.BirthDate, got.Withheld)
			}
			if got.Name != "Anna Berg" || got.Email != anna().Email {
				t.Errorf("%s for purpose %q withheld more than birth_date: %+v", name, tc.purpose, got)
			}
		}
	}
	// An update without the purpose keeps the value it could not see.
	got, err := e.db.FindSubjectByID(e.as(tn, "credit_check"), s.ID)
	must(t, err)
	if got.BirthDate != adultBorn {
		t.Errorf("updates by callers without the purpose lost birth_date: %q", got.BirthDate)
	}
}

func testSubjectInputGuard(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	for _, tc := range []struct{ name, value, rule string }{
		{"card", "Anna 4111 1111 1111 1111", skjold.KindCardNumber},
		{"card dashes", "4111-1111-1111-1111", skjold.KindCardNumber},
		{"pesel", "Jan Kowalski 44051401359", skjold.KindPESEL},
	} {
		err := e.db.CreateSubject(ctx, &skjold.Subject{Ref: "G-1", Name: tc.value})
		wantCode(t, err, skjold.EINVALID)
		var de *skjold.Error
		if !errors.As(err, &de) || de.Field != skjold.FieldName || de.Rule != tc.rule {
			t.Errorf("%s: error %#v, want field %q rule %q", tc.name, err, skjold.FieldName, tc.rule)
		}
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, tc.value)
		msg := err.Error() + skjold.ErrorMessage(err)
		if strings.Contains(msg, tc.value) || strings.Contains(msg, digits[:6]) || strings.Contains(msg, digits[len(digits)-4:]) {
			t.Errorf("%s: the error repeats the value: %q", tc.name, msg)
		}
	}
	all, err := e.db.FindSubjects(ctx, skjold.SubjectFilter{})
	must(t, err)
	if len(all) != 0 {
		t.Errorf("%d subjects stored after refused input", len(all))
	}
	for _, ev := range e.events(0) {
		if ev.Action == "subject.create" {
			t.Errorf("a refused subject left an audit event: %+v", ev)
		}
	}

	s := e.newSubject(ctx, anna())
	_, err = e.db.UpdateSubject(ctx, s.ID, skjold.SubjectUpdate{Name: ptr("4111 1111 1111 1111")})
	wantCode(t, err, skjold.EINVALID)
	got, err := e.db.FindSubjectByID(ctx, s.ID)
	must(t, err)
	if got.Name != "Anna Berg" {
		t.Errorf("a refused update changed the name to %q", got.Name)
	}
	e.noPlaintext(t, "4111 1111 1111 1111", "44051401359")

	// A tenant may allow a kind in a field.
	def, err := e.db.FindCategory(ctx, skjold.SubjectCategory)
	must(t, err)
	def.Field(skjold.FieldRef).Allow = []string{skjold.KindPESEL}
	_, err = e.db.PutCategory(ctx, def)
	must(t, err)
	e.newSubject(ctx, &skjold.Subject{Ref: "44051401359"})
}

func testSubjectInvalid(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	for name, s := range map[string]*skjold.Subject{
		"email":       {Email: "not-an-email"},
		"phone":       {Phone: "call me"},
		"short phone": {Phone: "1234"},
		"birth date":  {BirthDate: "1980-13-01"},
		"guardian id": {GuardianID: "not-an-id"},
		"control":     {Name: "Anna\x00Berg"},
		"utf8":        {Name: "Anna \xff"},
		"long":        {Name: strings.Repeat("a", skjold.MaxTextLength+1)},
	} {
		if err := e.db.CreateSubject(ctx, s); skjold.ErrorCode(err) != skjold.EINVALID {
			t.Errorf("%s: CreateSubject error = %v, want %s", name, err, skjold.EINVALID)
		}
	}
	s := e.newSubject(ctx, anna())
	_, err := e.db.UpdateSubject(ctx, s.ID, skjold.SubjectUpdate{GuardianID: ptr(s.ID)})
	wantCode(t, err, skjold.EINVALID)
	_, err = e.db.UpdateSubject(ctx, s.ID, skjold.SubjectUpdate{Email: ptr("nope")})
	wantCode(t, err, skjold.EINVALID)
	all, err := e.db.FindSubjects(ctx, skjold.SubjectFilter{})
	must(t, err)
	if len(all) != 1 {
		t.Errorf("%d subjects after refused input, want 1", len(all))
	}
}

// testLookalikeEmails checks that addresses which differ only by a dotted capital I, or by a
// Kelvin sign, never find each other through the blind index, while case still does not matter.
func testLookalikeEmails(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	ida := e.newSubject(ctx, &skjold.Subject{Name: "Ida", Email: "ida@example.com"})
	dotted := e.newSubject(ctx, &skjold.Subject{Name: "İda", Email: "\u0130da@example.com"})
	kari := e.newSubject(ctx, &skjold.Subject{Name: "Kari", Email: "kari@example.com"})
	for query, want := range map[string]string{
		"IDA@example.com": ida.ID, "\u0130da@example.com": dotted.ID, "\u0130DA@EXAMPLE.COM": dotted.ID,
		"Kari@Example.com": kari.ID, "\u212aari@example.com": "", "\u0131da@example.com": "",
	} {
		found, err := e.db.FindSubjects(ctx, skjold.SubjectFilter{Email: query})
		must(t, err)
		var got []string
		for _, s := range found {
			got = append(got, s.ID)
		}
		if (want == "" && len(got) != 0) || (want != "" && !slices.Equal(got, []string{want})) {
			t.Errorf("FindSubjects(email %q) = %v, want [%s]", query, got, want)
		}
	}
	err := e.db.CreateSubject(ctx, &skjold.Subject{Name: "Kelvin", Email: "\u212aari@example.com"})
	wantCode(t, err, skjold.EINVALID)
	for _, bad := range []string{"a@b@c.org", "a@@b.org", ".a@b.org", "a@b..org"} {
		wantCode(t, e.db.CreateSubject(ctx, &skjold.Subject{Name: "Bad", Email: bad}), skjold.EINVALID)
	}
}

// testRecordBirthDates checks that a minor's birth date in a record of any category needs a
// guardian, as in the profile: the record is refused while the subject has none (or a guardian
// who is no adult), and the guardian cannot be removed while such a record exists.
func testRecordBirthDates(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	_, err := e.db.PutCategory(ctx, &skjold.Category{Name: "membership", LegalBasis: skjold.BasisContract, Purposes: []string{"contract"},
		Retention: skjold.Retention{Period: "P2Y", From: skjold.RetentionFromRelationship},
		Fields: []skjold.Field{{Name: "club", Type: skjold.TypeString}, {Name: "member_birth_date", Type: skjold.TypeDate},
			{Name: "joined", Type: skjold.TypeDate}}})
	must(t, err)
	parent := e.newSubject(ctx, &skjold.Subject{Name: "Parent", BirthDate: adultBorn})
	minor := e.newSubject(ctx, &skjold.Subject{Name: "Unknown age"})
	noAge := e.newSubject(ctx, &skjold.Subject{Name: "Ageless"})
	young := map[string]any{"club": "Fjord IL", "member_birth_date": minorBorn}

	r := &skjold.Record{SubjectID: minor.ID, Category: "membership", Data: young}
	err = e.db.CreateRecord(ctx, r)
	if e := (*skjold.Error)(nil); !errors.As(err, &e) || e.Code != skjold.EINVALID || e.Field != "member_birth_date" || e.Rule != "guardian" {
		t.Fatalf("a minor's birth date in a record without a guardian: %v, want EINVALID on member_birth_date", err)
	}
	// A date that is no birth date, and an adult's birth date, need nothing.
	e.newRecord(ctx, minor.ID, "membership", map[string]any{"club": "Fjord IL", "joined": minorBorn})
	adult := e.newRecord(ctx, minor.ID, "membership", map[string]any{"club": "Fjord IL", "member_birth_date": adultBorn})
	_, err = e.db.UpdateRecord(ctx, adult.ID, map[string]any{"member_birth_date": minorBorn})
	wantCode(t, err, skjold.EINVALID)

	// A guardian with no known age will not do; an adult will.
	_, err = e.db.UpdateSubject(ctx, minor.ID, skjold.SubjectUpdate{GuardianID: ptr(noAge.ID)})
	must(t, err)
	wantCode(t, e.db.CreateRecord(ctx, &skjold.Record{SubjectID: minor.ID, Category: "membership", Data: young}), skjold.EINVALID)
	_, err = e.db.UpdateSubject(ctx, minor.ID, skjold.SubjectUpdate{GuardianID: ptr(parent.ID)})
	must(t, err)
	e.newRecord(ctx, minor.ID, "membership", young)

	// Now the guardian stays, and stays an adult.
	_, err = e.db.UpdateSubject(ctx, minor.ID, skjold.SubjectUpdate{GuardianID: ptr("")})
	wantCode(t, err, skjold.EINVALID)
	_, err = e.db.UpdateSubject(ctx, minor.ID, skjold.SubjectUpdate{GuardianID: ptr(noAge.ID)})
	wantCode(t, err, skjold.EINVALID)
	got, err := e.db.FindSubjectByID(ctx, minor.ID)
	must(t, err)
	if got.GuardianID != parent.ID {
		t.Errorf("guardian = %q after refused changes, want %s", got.GuardianID, parent.ID)
	}
}

func testSubjectGuardians(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("Tenant A"), e.newTenant("Tenant B")
	ctx := e.as(a, "")
	parent := e.newSubject(ctx, &skjold.Subject{Name: "Parent", BirthDate: adultBorn})
	noAge := e.newSubject(ctx, &skjold.Subject{Name: "Ageless"})
	foreign := e.newSubject(e.as(b, ""), &skjold.Subject{Name: "Foreign", BirthDate: adultBorn})

	err := e.db.CreateSubject(ctx, &skjold.Subject{Name: "Child", BirthDate: minorBorn})
	wantCode(t, err, skjold.EINVALID)
	err = e.db.CreateSubject(ctx, &skjold.Subject{Name: "Almost 18", BirthDate: turns18Tmr})
	wantCode(t, err, skjold.EINVALID)
	e.newSubject(ctx, &skjold.Subject{Name: "Just 18", BirthDate: turned18})

	child := e.newSubject(ctx, &skjold.Subject{Name: "Child", BirthDate: minorBorn, GuardianID: parent.ID})
	for name, guardian := range map[string]string{
		"minor guardian":   child.ID,
		"no birth date":    noAge.ID,
		"other tenant":     foreign.ID,
		"unknown guardian": "0193d6a4-0000-7000-8000-000000000000",
	} {
		err := e.db.CreateSubject(ctx, &skjold.Subject{Name: "Sibling", BirthDate: minorBorn, GuardianID: guardian})
		if skjold.ErrorCode(err) != skjold.EINVALID {
			t.Errorf("%s: CreateSubject error = %v, want %s", name, err, skjold.EINVALID)
		}
		_, err = e.db.UpdateSubject(ctx, child.ID, skjold.SubjectUpdate{GuardianID: ptr(guardian)})
		if skjold.ErrorCode(err) != skjold.EINVALID {
			t.Errorf("%s: UpdateSubject error = %v, want %s", name, err, skjold.EINVALID)
		}
	}
	_, err = e.db.UpdateSubject(ctx, child.ID, skjold.SubjectUpdate{GuardianID: ptr("")})
	wantCode(t, err, skjold.EINVALID)

	wantCode(t, e.db.DeleteSubject(ctx, parent.ID), skjold.ECONFLICT)
	_, err = e.db.UpdateSubject(ctx, parent.ID, skjold.SubjectUpdate{BirthDate: ptr("")})
	wantCode(t, err, skjold.EINVALID)
	_, err = e.db.UpdateSubject(ctx, parent.ID, skjold.SubjectUpdate{BirthDate: ptr(minorBorn)})
	wantCode(t, err, skjold.EINVALID)
	got, err := e.db.FindSubjectByID(e.as(a, "credit_check"), parent.ID)
	must(t, err)
	if got.BirthDate != adultBorn {
		t.Errorf("refused updates changed the guardian's birth date to %q", got.BirthDate)
	}
	got, err = e.db.FindSubjectByID(ctx, child.ID)
	must(t, err)
	if got.GuardianID != parent.ID {
		t.Errorf("child's guardian = %q, want %s", got.GuardianID, parent.ID)
	}

	// A guardian may be replaced by another adult; the ward may then be erased, and so may
	// the guardian once it has no wards.
	_, err = e.db.UpdateSubject(ctx, noAge.ID, skjold.SubjectUpdate{BirthDate: ptr("1975-01-01")})
	must(t, err)
	_, err = e.db.UpdateSubject(ctx, child.ID, skjold.SubjectUpdate{GuardianID: ptr(noAge.ID)})
	must(t, err)
	must(t, e.db.DeleteSubject(ctx, parent.ID))
	must(t, e.db.DeleteSubject(ctx, child.ID))
	must(t, e.db.DeleteSubject(ctx, noAge.ID))
}

// badIDs are strings that are not ids; every method must answer ENOTFOUND for them.
var badIDs = []string{"", "x", "0193D6A4-0000-7000-8000-000000000000", "0193d6a4-0000-7000-8000-0000000000000",
	"0193d6a4-0000-7000-8000-00000000000", "0193d6a4_0000_7000_8000_000000000000", "' OR '1'='1",
	"0193d6a4-0000-7000-8000-00000000000g", "0193d6a4-0000-7000-8000-00000000000\x00"}

func testWrongShapeIDs(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	s := e.newSubject(ctx, anna())
	e.newRecord(ctx, s.ID, "contact", map[string]any{"city": "Bergen"})
	unknown := "0193d6a4-0000-7000-8000-000000000000"
	for _, id := range append(badIDs, unknown) {
		for name, err := range idCalls(e, ctx, id) {
			if skjold.ErrorCode(err) != skjold.ENOTFOUND {
				t.Errorf("%s(%q) error = %v, want %s", name, id, err, skjold.ENOTFOUND)
			}
		}
	}
}

// idCalls calls every subject and record method that takes an id with id, and returns the
// errors by method name.
func idCalls(e *env, ctx context.Context, id string) map[string]error {
	errs := map[string]error{}
	_, errs["FindSubjectByID"] = e.db.FindSubjectByID(ctx, id)
	_, errs["UpdateSubject"] = e.db.UpdateSubject(ctx, id, skjold.SubjectUpdate{Name: ptr("Mallory")})
	errs["DeleteSubject"] = e.db.DeleteSubject(ctx, id)
	_, errs["FindRecords"] = e.db.FindRecords(ctx, skjold.RecordFilter{SubjectID: id})
	errs["CreateRecord"] = e.db.CreateRecord(ctx, &skjold.Record{SubjectID: id, Category: "contact", Data: map[string]any{"city": "Oslo"}})
	_, errs["FindRecordByID"] = e.db.FindRecordByID(ctx, id)
	_, errs["UpdateRecord"] = e.db.UpdateRecord(ctx, id, map[string]any{"city": "Oslo"})
	errs["DeleteRecord"] = e.db.DeleteRecord(ctx, id)
	return errs
}

func testTenantIsolation(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("Tenant A"), e.newTenant("Tenant B")
	ctxA, ctxB := e.as(a, "credit_check"), e.as(b, "credit_check")
	s := e.newSubject(ctxA, anna())
	r := e.newRecord(ctxA, s.ID, "contact", map[string]any{"city": "Bergen", "email": "anna@example.com"})
	beforeS, err := e.db.FindSubjectByID(ctxA, s.ID)
	must(t, err)
	beforeR, err := e.db.FindRecordByID(ctxA, r.ID)
	must(t, err)
	seq := e.lastSeq()

	for _, id := range []string{s.ID, r.ID} {
		for name, err := range idCalls(e, ctxB, id) {
			if skjold.ErrorCode(err) != skjold.ENOTFOUND {
				t.Errorf("tenant B: %s(tenant A's %s) error = %v, want %s", name, id, err, skjold.ENOTFOUND)
			}
		}
	}
	for _, f := range []skjold.SubjectFilter{{Email: anna().Email}, {Phone: anna().Phone}, {Ref: anna().Ref}, {}} {
		found, err := e.db.FindSubjects(ctxB, f)
		must(t, err)
		if len(found) != 0 {
			t.Errorf("tenant B's FindSubjects(%+v) found tenant A's subject", f)
		}
	}
	err = e.db.CreateSubject(ctxB, &skjold.Subject{Name: "Ward", BirthDate: minorBorn, GuardianID: s.ID})
	wantCode(t, err, skjold.EINVALID)
	err = e.db.CreateSubject(ctxB, &skjold.Subject{Name: "Adult", GuardianID: s.ID})
	wantCode(t, err, skjold.EINVALID)
	evs, err := e.db.FindAuditEvents(ctxB, skjold.AuditFilter{SubjectID: s.ID})
	must(t, err)
	if len(evs) != 0 {
		t.Errorf("tenant B reads %d audit events of tenant A's subject", len(evs))
	}

	// Only tenant B's own record of its audit query remains, in tenant B's log.
	for _, ev := range e.events(seq) {
		if ev.TenantID != b.ID || ev.Action != "audit.read" {
			t.Errorf("tenant B's refused calls left an audit event: %+v", ev)
		}
	}
	afterS, err := e.db.FindSubjectByID(ctxA, s.ID)
	must(t, err)
	afterR, err := e.db.FindRecordByID(ctxA, r.ID)
	must(t, err)
	if mustJSON(t, beforeS) != mustJSON(t, afterS) || mustJSON(t, beforeR) != mustJSON(t, afterR) {
		t.Errorf("tenant B changed tenant A's data:\n%+v\n%+v", afterS, afterR)
	}
}

func testSubjectPaging(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	var ids []string
	for i := range 7 {
		ids = append(ids, e.newSubject(ctx, &skjold.Subject{Name: "Subject " + string(rune('A'+i))}).ID)
	}
	var seen []string
	f := skjold.SubjectFilter{Page: skjold.Page{Limit: 3}}
	for range 5 {
		page, err := e.db.FindSubjects(ctx, f)
		must(t, err)
		if len(page) > 3 {
			t.Fatalf("page of %d, limit 3", len(page))
		}
		for _, s := range page {
			seen = append(seen, s.ID)
		}
		if len(page) == 0 {
			break
		}
		f.After = page[len(page)-1].ID
	}
	if !slices.Equal(seen, ids) {
		t.Errorf("paged through %v, want %v (creation order is id order)", seen, ids)
	}
	for _, p := range []skjold.Page{{Limit: -1}, {Limit: skjold.MaxPageLimit + 1}, {After: "x"}} {
		_, err := e.db.FindSubjects(ctx, skjold.SubjectFilter{Page: p})
		wantCode(t, err, skjold.EINVALID)
	}
}

func testSubjectCallers(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	s := e.newSubject(ctx, anna())
	for code, ctx := range map[string]context.Context{skjold.EFORBIDDEN: e.op, skjold.EUNAUTHORIZED: t.Context()} {
		wantCode(t, e.db.CreateSubject(ctx, anna()), code)
		_, err := e.db.FindSubjectByID(ctx, s.ID)
		wantCode(t, err, code)
		_, err = e.db.FindSubjects(ctx, skjold.SubjectFilter{})
		wantCode(t, err, code)
		_, err = e.db.UpdateSubject(ctx, s.ID, skjold.SubjectUpdate{Name: ptr("x")})
		wantCode(t, err, code)
		wantCode(t, e.db.DeleteSubject(ctx, s.ID), code)
	}
}

// testIfMatch: every write gives a subject or record a new Version; a write under
// skjold.WithIfMatch goes ahead only on the version it names, and a refused one changes nothing.
func testIfMatch(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "credit_check")
	s := e.newSubject(ctx, anna())
	read, err := e.db.FindSubjectByID(ctx, s.ID)
	must(t, err)
	if s.Version == "" || read.Version != s.Version {
		t.Fatalf("created with version %q, read with %q", s.Version, read.Version)
	}
	stale := skjold.WithIfMatch(ctx, []string{skjold.ETag(s.Version)})
	updated, err := e.db.UpdateSubject(stale, s.ID, skjold.SubjectUpdate{Name: ptr("Anna Lund")})
	must(t, err)
	if updated.Version == s.Version {
		t.Fatalf("an update kept version %q", s.Version)
	}
	if _, err := e.db.UpdateSubject(stale, s.ID, skjold.SubjectUpdate{Name: ptr("Mallory")}); skjold.ErrorCode(err) != skjold.EPRECONDITION {
		t.Fatalf("update on a stale version: %v", err)
	}
	if got, _ := e.db.FindSubjectByID(ctx, s.ID); got.Name != "Anna Lund" || got.Version != updated.Version {
		t.Fatalf("after a refused update: name %q version %q", got.Name, got.Version)
	}
	rec := e.newRecord(ctx, s.ID, "enquiry", map[string]any{"message": "Hi"})
	if rec.Version == "" {
		t.Fatal("a created record has no version")
	}
	if err := e.db.DeleteRecord(skjold.WithIfMatch(ctx, []string{`W/"` + rec.Version + `"`}), rec.ID); skjold.ErrorCode(err) != skjold.EPRECONDITION {
		t.Fatalf("delete with a weak tag: %v", err)
	}
	must(t, e.db.DeleteRecord(skjold.WithIfMatch(ctx, []string{skjold.ETag(rec.Version)}), rec.ID))
	if _, err := e.db.EraseSubject(stale, s.ID, skjold.ErasedOnRequest); skjold.ErrorCode(err) != skjold.EPRECONDITION {
		t.Fatalf("erasure on a stale version: %v", err)
	}
	must(t, func() error {
		_, err := e.db.EraseSubject(skjold.WithIfMatch(ctx, []string{"*"}), s.ID, skjold.ErasedOnRequest)
		return err
	}())
}
