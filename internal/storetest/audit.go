package storetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// TestAudit checks the skjold.AuditService and the audit trail the other services leave:
// one event per change and per read, with names but no values, in a hash chain that
// detects altered, removed and reordered events.
func TestAudit(t *testing.T, h Harness) {
	t.Run("Events", func(t *testing.T) { testAuditEvents(t, h) })
	t.Run("TenantScope", func(t *testing.T) { testAuditTenantScope(t, h) })
	t.Run("Filter", func(t *testing.T) { testAuditFilter(t, h) })
	t.Run("SurvivesErasure", func(t *testing.T) { testAuditSurvivesErasure(t, h) })
	t.Run("AppendOnly", func(t *testing.T) { testAuditAppendOnly(t, h) })
	t.Run("Tamper", func(t *testing.T) { testAuditTamper(t, h) })
	t.Run("VerifyUnderLoad", func(t *testing.T) { testAuditVerifyUnderLoad(t, h) })
	t.Run("PlainRehash", func(t *testing.T) { testAuditPlainRehash(t, h) })
	t.Run("UnkeyedChain", func(t *testing.T) { testAuditUnkeyedChain(t, h) })
	t.Run("Checkpoints", func(t *testing.T) { testAuditCheckpoints(t, h) })
}

// wantEvent is what a test expects of one audit event.
type wantEvent struct {
	Action, SubjectID, RecordID string
	Fields                      []string
}

// auditSteps runs operations one by one, each with the clock moved on a minute, and checks
// the events each appended.
type auditSteps struct {
	t       *testing.T
	e       *env
	tenant  string
	purpose string
	seq     int64
}

func (a *auditSteps) step(name string, op func() error, want func() []wantEvent) {
	t := a.t
	t.Helper()
	a.e.clock.Add(time.Minute)
	if err := op(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	got, wants := a.e.events(a.seq), want()
	if len(got) != len(wants) {
		t.Fatalf("%s appended %d events, want %d: %s", name, len(got), len(wants), mustJSON(t, got))
	}
	for i, ev := range got {
		w := wants[i]
		if w.Fields == nil {
			w.Fields = []string{}
		}
		purpose := a.purpose
		if strings.HasPrefix(w.Action, "token.") {
			purpose = "" // token events record no purpose: no personal data is touched
		}
		// Field names are compared as sets: an update lists them in the order it applies them.
		if ev.Action != w.Action || ev.SubjectID != w.SubjectID || ev.RecordID != w.RecordID ||
			!sameSet(ev.Fields, w.Fields) || len(ev.Fields) != len(w.Fields) || ev.Purpose != purpose || ev.Actor != "token:x" ||
			ev.TenantID != a.tenant || ev.Source != "127.0.0.1" || !ev.Time.Equal(a.e.clock.Now()) {
			t.Errorf("%s: event\n%s\nwant %+v with purpose %q by token:x of %s from 127.0.0.1 at %v",
				name, mustJSON(t, ev), w, purpose, a.tenant, a.e.clock.Now())
		}
	}
	a.seq = a.e.lastSeq()
}

func one(w wantEvent) func() []wantEvent { return func() []wantEvent { return []wantEvent{w} } }

func testAuditEvents(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "contract")
	evs := e.events(0)
	if len(evs) != 2 || evs[0].Action != "tenant.create" || evs[1].Action != "token.create" ||
		evs[0].Actor != "test" || evs[0].TenantID != tn.ID || evs[1].TenantID != tn.ID {
		t.Fatalf("CreateTenant left events %s", mustJSON(t, evs))
	}
	a := &auditSteps{t: t, e: e, tenant: tn.ID, purpose: "contract", seq: e.lastSeq()}
	s, r := anna(), &skjold.Record{Category: "travel_booking", Data: booking()}
	bookingFields := []string{"booking_reference", "departure_date", "destination", "kind", "notes", "price"}
	readable := []string{"email", "name", "phone", "ref"} // birth_date is withheld for "contract"

	a.step("CreateSubject", func() error { return e.db.CreateSubject(ctx, s) },
		func() []wantEvent { return []wantEvent{{"subject.create", s.ID, "", profileFields}} })
	a.step("FindSubjectByID", func() error { _, err := e.db.FindSubjectByID(ctx, s.ID); return err },
		func() []wantEvent { return []wantEvent{{"subject.read", s.ID, "", readable}} })
	a.step("FindSubjects", func() error { _, err := e.db.FindSubjects(ctx, skjold.SubjectFilter{Email: s.Email}); return err },
		func() []wantEvent { return []wantEvent{{"subject.read", s.ID, "", readable}} })
	a.step("UpdateSubject", func() error {
		_, err := e.db.UpdateSubject(ctx, s.ID, skjold.SubjectUpdate{Name: ptr("Anna Berg-Lund"), Phone: ptr("")})
		return err
	}, func() []wantEvent { return []wantEvent{{"subject.update", s.ID, "", []string{"phone", "name"}}} })
	a.step("CreateRecord", func() error { r.SubjectID = s.ID; return e.db.CreateRecord(ctx, r) },
		func() []wantEvent { return []wantEvent{{"record.create", s.ID, r.ID, bookingFields}} })
	a.step("FindRecordByID", func() error { _, err := e.db.FindRecordByID(ctx, r.ID); return err },
		func() []wantEvent { return []wantEvent{{"record.read", s.ID, r.ID, bookingFields}} })
	a.step("UpdateRecord", func() error {
		_, err := e.db.UpdateRecord(ctx, r.ID, map[string]any{"notes": nil, "carrier": "Widerøe"})
		return err
	}, func() []wantEvent { return []wantEvent{{"record.update", s.ID, r.ID, []string{"carrier", "notes"}}} })
	var r2 *skjold.Record
	a.step("CreateRecord identity", func() error {
		r2 = &skjold.Record{SubjectID: s.ID, Category: "identity", Data: map[string]any{"first_name": "Anna", "birth_date": adultBorn}}
		return e.db.CreateRecord(ctx, r2)
	}, func() []wantEvent {
		return []wantEvent{{"record.create", s.ID, r2.ID, []string{"birth_date", "first_name"}}}
	})
	a.step("FindRecords", func() error { _, err := e.db.FindRecords(ctx, skjold.RecordFilter{SubjectID: s.ID}); return err },
		func() []wantEvent {
			return []wantEvent{
				{"record.read", s.ID, r.ID, []string{"booking_reference", "carrier", "departure_date", "destination", "kind", "price"}},
				{"record.read", s.ID, r2.ID, []string{"first_name"}}, // birth_date withheld, so not read
			}
		})
	a.step("DeleteRecord", func() error { return e.db.DeleteRecord(ctx, r.ID) },
		one(wantEvent{"record.delete", s.ID, r.ID, nil}))
	a.step("PutCategory", func() error { _, err := e.db.PutCategory(ctx, loyalty()); return err },
		one(wantEvent{"category.create", "", "", []string{"category:loyalty"}}))
	a.step("PutCategory again", func() error { _, err := e.db.PutCategory(ctx, loyalty()); return err },
		one(wantEvent{"category.update", "", "", []string{"category:loyalty"}}))
	tok := &skjold.Token{TenantID: tn.ID, Name: "ci", Scopes: []string{skjold.ScopeRead}}
	a.step("CreateToken", func() error { return e.db.CreateToken(ctx, tok) },
		func() []wantEvent { return []wantEvent{{"token.create", "", "", []string{"token:" + tok.ID}}} })
	a.step("RevokeToken", func() error { return e.db.RevokeToken(ctx, tok.ID) },
		func() []wantEvent { return []wantEvent{{"token.revoke", "", "", []string{"token:" + tok.ID}}} })
	a.step("FindAuditEvents", func() error { _, err := e.db.FindAuditEvents(ctx, skjold.AuditFilter{SubjectID: s.ID}); return err },
		func() []wantEvent { return []wantEvent{{"audit.read", s.ID, "", nil}} })
	a.step("DeleteSubject", func() error { return e.db.DeleteSubject(ctx, s.ID) },
		one(wantEvent{"subject.erase", s.ID, "", []string{"erased:1", "kept:0", "reason:request", "complete:true"}}))

	// Refused operations leave no event.
	a.step("refused", func() error {
		if err := e.db.CreateSubject(ctx, &skjold.Subject{Name: "Child", BirthDate: minorBorn}); err == nil {
			t.Error("a minor without a guardian was stored")
		}
		_, err := e.db.FindSubjectByID(ctx, s.ID)
		wantCode(t, err, skjold.ENOTFOUND)
		return nil
	}, func() []wantEvent { return nil })

	all := e.events(0)
	noValuesIn(t, all, "C-1001", "Anna.Berg@Example.com", "912 34 567", "91234567", "Anna Berg", adultBorn,
		"XK9QZ", "Tromsø", "Window seat", "Widerøe", "2499", "2025-06-01")
	rep, err := e.db.VerifyAuditChain(t.Context())
	must(t, err)
	if last := all[len(all)-1]; rep.Length < last.Seq || len(rep.Head) != 32 {
		t.Errorf("VerifyAuditChain = %d events, head %x; event %d exists", rep.Length, rep.Head, last.Seq)
	}
}

// profileFields are the names of every profile value of anna.
var profileFields = []string{"birth_date", "email", "name", "phone", "ref"}

// noValuesIn fails the test if the JSON of the events holds any of values, in any case.
func noValuesIn(t *testing.T, events []*skjold.AuditEvent, values ...string) {
	t.Helper()
	js := strings.ToLower(mustJSON(t, events))
	for _, v := range values {
		if strings.Contains(js, strings.ToLower(v)) {
			t.Errorf("the audit log holds the personal value %q", v)
		}
	}
}

func testAuditTenantScope(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("Tenant A"), e.newTenant("Tenant B")
	sa := e.newSubject(e.as(a, ""), anna())
	sb := e.newSubject(e.as(b, ""), anna())
	for _, tc := range []struct {
		tn      *tenant
		subject string
	}{{a, sa.ID}, {b, sb.ID}} {
		evs, err := e.db.FindAuditEvents(e.as(tc.tn, ""), skjold.AuditFilter{})
		must(t, err)
		if len(evs) != 3 { // tenant.create, token.create, subject.create
			t.Errorf("tenant %s sees %d events, want 3: %s", tc.tn.Name, len(evs), mustJSON(t, evs))
		}
		for _, ev := range evs {
			if ev.TenantID != tc.tn.ID {
				t.Errorf("tenant %s sees an event of tenant %q", tc.tn.Name, ev.TenantID)
			}
		}
	}
	// Both audit.read events appended above count for the operator.
	all, err := e.db.FindAuditEvents(e.op, skjold.AuditFilter{Limit: skjold.MaxPageLimit})
	must(t, err)
	if len(all) != 8 {
		t.Errorf("the operator sees %d events, want 8: %s", len(all), mustJSON(t, all))
	}
}

func testAuditFilter(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, anna())
	other := e.newSubject(ctx, &skjold.Subject{Ref: "C-1002"})
	for range 4 {
		_, err := e.db.FindSubjectByID(ctx, s.ID)
		must(t, err)
		_, err = e.db.FindSubjectByID(ctx, other.ID)
		must(t, err)
	}
	var seqs []int64
	f := skjold.AuditFilter{SubjectID: s.ID, Limit: 2}
	for range 10 {
		evs, err := e.db.FindAuditEvents(ctx, f)
		must(t, err)
		for _, ev := range evs {
			if ev.SubjectID != s.ID {
				t.Errorf("filter by subject returned %+v", ev)
			}
			seqs = append(seqs, ev.Seq)
		}
		if len(evs) < f.Limit {
			break
		}
		f.After = evs[len(evs)-1].Seq
	}
	// subject.create, four reads, and the audit.read events of the pages read before.
	increasing := len(seqs) >= 5
	for i := 1; i < len(seqs); i++ {
		increasing = increasing && seqs[i] > seqs[i-1]
	}
	if !increasing {
		t.Errorf("paged sequence numbers %v, want at least 5, each once, in order", seqs)
	}
	testAuditFilterFields(t, e, ctx, s.ID)
	for _, c := range []struct {
		filter skjold.AuditFilter
		field  string
	}{
		{skjold.AuditFilter{Action: "Subject Read"}, "action"},
		{skjold.AuditFilter{Actor: strings.Repeat("a", 201)}, "actor"},
		{skjold.AuditFilter{Since: time.Unix(100, 0), Until: time.Unix(100, 0)}, "until"},
		{skjold.AuditFilter{Limit: -1}, "limit"},
		{skjold.AuditFilter{Limit: skjold.MaxPageLimit + 1}, "limit"},
		{skjold.AuditFilter{After: -1}, "after"},
		{skjold.AuditFilter{SubjectID: "x"}, "subject_id"},
	} {
		_, err := e.db.FindAuditEvents(ctx, c.filter)
		wantCode(t, err, skjold.EINVALID)
		var se *skjold.Error
		if errors.As(err, &se) && se.Field != c.field {
			t.Errorf("FindAuditEvents(%+v) error names field %q, want %q", c.filter, se.Field, c.field)
		}
	}
	_, err := e.db.FindAuditEvents(t.Context(), skjold.AuditFilter{})
	wantCode(t, err, skjold.EUNAUTHORIZED)
}

// testAuditFilterFields checks the filters by action, actor and time, and the newest-first
// order, on the events testAuditFilter made: every event returned matches, and none that
// matches is left out.
func testAuditFilterFields(t *testing.T, e *env, ctx context.Context, subjectID string) {
	t.Helper()
	all, err := e.db.FindAuditEvents(ctx, skjold.AuditFilter{Limit: skjold.MaxPageLimit})
	must(t, err)
	if len(all) < 3 {
		t.Fatalf("only %d events", len(all))
	}
	count := func(match func(*skjold.AuditEvent) bool) int {
		n := 0
		for _, ev := range all {
			if match(ev) {
				n++
			}
		}
		return n
	}
	mid := all[len(all)/2].Time
	for _, c := range []struct {
		name   string
		filter skjold.AuditFilter
		match  func(*skjold.AuditEvent) bool
	}{
		{"action", skjold.AuditFilter{Action: "subject.read"}, func(ev *skjold.AuditEvent) bool { return ev.Action == "subject.read" }},
		{"actor", skjold.AuditFilter{Actor: all[0].Actor}, func(ev *skjold.AuditEvent) bool { return ev.Actor == all[0].Actor }},
		{"nobody", skjold.AuditFilter{Actor: "user:nobody"}, func(*skjold.AuditEvent) bool { return false }},
		{"since", skjold.AuditFilter{Since: mid}, func(ev *skjold.AuditEvent) bool { return !ev.Time.Before(mid) }},
		{"until", skjold.AuditFilter{Until: mid}, func(ev *skjold.AuditEvent) bool { return ev.Time.Before(mid) }},
		{"subject and action", skjold.AuditFilter{SubjectID: subjectID, Action: "subject.read"}, func(ev *skjold.AuditEvent) bool {
			return ev.SubjectID == subjectID && ev.Action == "subject.read"
		}},
	} {
		f := c.filter
		f.Limit = skjold.MaxPageLimit
		got, err := e.db.FindAuditEvents(ctx, f)
		must(t, err)
		for _, ev := range got {
			if ev.Seq > all[len(all)-1].Seq { // the audit.read events of these very queries
				continue
			}
			if !c.match(ev) {
				t.Errorf("filter %s returned %+v", c.name, ev)
			}
		}
		n := 0
		for _, ev := range got {
			if ev.Seq <= all[len(all)-1].Seq {
				n++
			}
		}
		if want := count(c.match); n != want {
			t.Errorf("filter %s returned %d of the events, want %d", c.name, n, want)
		}
	}
	newest, err := e.db.FindAuditEvents(ctx, skjold.AuditFilter{Newest: true, Limit: 2})
	must(t, err)
	if len(newest) != 2 || newest[0].Seq <= newest[1].Seq || newest[1].Seq < all[len(all)-1].Seq {
		t.Errorf("newest first: got %s", mustJSON(t, newest))
	}
}

func testAuditSurvivesErasure(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	s := e.newSubject(ctx, anna())
	r := e.newRecord(ctx, s.ID, "travel_booking", booking())
	_, err := e.db.FindSubjectByID(ctx, s.ID)
	must(t, err)
	must(t, e.db.DeleteSubject(ctx, s.ID))
	evs, err := e.db.FindAuditEvents(ctx, skjold.AuditFilter{SubjectID: s.ID})
	must(t, err)
	var actions []string
	for _, ev := range evs {
		actions = append(actions, ev.Action)
	}
	want := []string{"subject.create", "record.create", "subject.read", "subject.erase"}
	if !slices.Equal(actions, want) {
		t.Errorf("events of the erased subject: %v, want %v", actions, want)
	}
	if len(evs) > 1 && evs[1].RecordID != r.ID {
		t.Errorf("record.create event names record %q, want %s", evs[1].RecordID, r.ID)
	}
	_, err = e.db.VerifyAuditChain(t.Context())
	must(t, err)
}

// auditFixture returns an environment whose audit log holds a few events.
func auditFixture(t *testing.T, h Harness) *env {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "contract")
	for _, ref := range []string{"A-1", "A-2", "A-3"} {
		s := e.newSubject(ctx, &skjold.Subject{Ref: ref, Name: "Subject " + ref})
		_, err := e.db.FindSubjectByID(ctx, s.ID)
		must(t, err)
	}
	if n := e.lastSeq(); n != 8 {
		t.Fatalf("fixture has %d events, want 8", n)
	}
	return e
}

func testAuditAppendOnly(t *testing.T, h Harness) {
	e := auditFixture(t, h)
	raw := e.raw()
	for _, q := range []string{
		"UPDATE audit_events SET action = 'nothing' WHERE seq = 3",
		"UPDATE audit_events SET seq = 100 WHERE seq = 8",
		"DELETE FROM audit_events WHERE seq = 8",
		"DELETE FROM audit_events",
	} {
		if _, err := raw.Exec(q); err == nil {
			t.Errorf("%q succeeded on the append-only audit log", q)
		}
	}
	if h.Engine == store.Postgres {
		if _, err := raw.Exec("TRUNCATE audit_events"); err == nil {
			t.Error("TRUNCATE succeeded on the append-only audit log")
		}
	}
	rep, err := e.db.VerifyAuditChain(t.Context())
	must(t, err)
	if rep.Length != 8 {
		t.Errorf("chain length %d, want 8", rep.Length)
	}
}

// dropAuditTriggers removes the append-only triggers, as someone with write access to the
// database could.
func (e *env) dropAuditTriggers() {
	raw := e.raw()
	if e.h.Engine == store.Postgres {
		e.rawExec(raw, "DROP TRIGGER audit_events_no_change ON audit_events")
		return
	}
	e.rawExec(raw, "DROP TRIGGER audit_events_no_update")
	e.rawExec(raw, "DROP TRIGGER audit_events_no_delete")
}

func testAuditTamper(t *testing.T, h Harness) {
	// Each alteration is undone before the next, and the chain must verify again.
	t.Run("Alter", func(t *testing.T) {
		e := auditFixture(t, h)
		e.dropAuditTriggers()
		raw := e.raw()
		for _, tc := range []struct {
			column string
			value  any
		}{
			{"action", "subject.nothing"}, {"actor", "someone"}, {"tenant_id", ""}, {"subject_id", ""},
			{"record_id", "x"}, {"fields", ""}, {"purpose", "marketing"}, {"source", "10.0.0.1"},
			{"time", int64(0)}, {"prev_hash", make([]byte, 32)}, {"hash", make([]byte, 32)},
		} {
			var orig any
			if err := raw.QueryRow("SELECT " + tc.column + " FROM audit_events WHERE seq = 4").Scan(&orig); err != nil {
				t.Fatal(err)
			}
			e.rawExec(raw, "UPDATE audit_events SET "+tc.column+" = ? WHERE seq = 4", tc.value)
			_, err := e.db.VerifyAuditChain(t.Context())
			if ce := chainError(t, err); ce.Seq != 4 {
				t.Errorf("altered %s: ChainError names event %d, want 4: %v", tc.column, ce.Seq, ce)
			}
			// Undo it: the chain must verify again, so the next alteration is tested alone.
			e.rawExec(raw, "UPDATE audit_events SET "+tc.column+" = ? WHERE seq = 4", orig)
			if _, err := e.db.VerifyAuditChain(t.Context()); err != nil {
				t.Fatalf("after undoing the %s change: %v", tc.column, err)
			}
		}
	})
	t.Run("DeleteMiddle", func(t *testing.T) {
		e := auditFixture(t, h)
		e.dropAuditTriggers()
		e.rawExec(e.raw(), "DELETE FROM audit_events WHERE seq = 5")
		_, err := e.db.VerifyAuditChain(t.Context())
		if ce := chainError(t, err); ce.Seq != 5 {
			t.Errorf("ChainError names event %d, want the missing 5: %v", ce.Seq, ce)
		}
	})
	t.Run("DeleteFirst", func(t *testing.T) {
		e := auditFixture(t, h)
		e.dropAuditTriggers()
		e.rawExec(e.raw(), "DELETE FROM audit_events WHERE seq = 1")
		_, err := e.db.VerifyAuditChain(t.Context())
		if ce := chainError(t, err); ce.Seq != 1 {
			t.Errorf("ChainError names event %d, want 1: %v", ce.Seq, ce)
		}
	})
	t.Run("Reorder", func(t *testing.T) {
		e := auditFixture(t, h)
		e.dropAuditTriggers()
		raw := e.raw()
		e.rawExec(raw, "UPDATE audit_events SET seq = -1 WHERE seq = 3")
		e.rawExec(raw, "UPDATE audit_events SET seq = 3 WHERE seq = 4")
		e.rawExec(raw, "UPDATE audit_events SET seq = 4 WHERE seq = -1")
		_, err := e.db.VerifyAuditChain(t.Context())
		if ce := chainError(t, err); ce.Seq != 3 {
			t.Errorf("ChainError names event %d, want 3: %v", ce.Seq, ce)
		}
	})
	t.Run("DeleteLast", func(t *testing.T) {
		e := auditFixture(t, h)
		e.dropAuditTriggers()
		e.rawExec(e.raw(), "DELETE FROM audit_events WHERE seq = 8")
		_, err := e.db.VerifyAuditChain(t.Context())
		if ce := chainError(t, err); ce.Seq != 8 {
			t.Errorf("ChainError names event %d, want the removed 8: %v", ce.Seq, ce)
		}
	})
	t.Run("Append", func(t *testing.T) {
		e := auditFixture(t, h)
		raw := e.raw()
		// A copy of the last event appended as the next one: the triggers do not stop inserts.
		e.rawExec(raw, `INSERT INTO audit_events (seq, time, actor, tenant_id, subject_id, record_id, action, fields,
			purpose, source, prev_hash, hash) SELECT 9, time, actor, tenant_id, subject_id, record_id, action, fields,
			purpose, source, prev_hash, hash FROM audit_events WHERE seq = 8`)
		_, err := e.db.VerifyAuditChain(t.Context())
		if ce := chainError(t, err); ce.Seq != 9 {
			t.Errorf("ChainError names event %d, want the forged 9: %v", ce.Seq, ce)
		}
	})
	t.Run("Head", func(t *testing.T) {
		e := auditFixture(t, h)
		e.rawExec(e.raw(), "UPDATE audit_head SET seq = seq - 1")
		_, err := e.db.VerifyAuditChain(t.Context())
		chainError(t, err)
	})
	t.Run("DeleteAll", func(t *testing.T) {
		e := auditFixture(t, h)
		e.dropAuditTriggers()
		e.rawExec(e.raw(), "DELETE FROM audit_events")
		_, err := e.db.VerifyAuditChain(t.Context())
		if ce := chainError(t, err); ce.Seq != 1 {
			t.Errorf("ChainError names event %d, want 1: %v", ce.Seq, ce)
		}
	})
}

// testAuditVerifyUnderLoad verifies the chain 50 times while 8 clients read and write, each
// appending events: verification reads one snapshot, so a running server's chain never
// looks truncated because events were appended between its queries.
func testAuditVerifyUnderLoad(t *testing.T, h Harness) {
	e := auditFixture(t, h)
	tn := e.newTenant("Tenant Load")
	e.unlimitedReads(tn) // the fixed clock never starts a new minute
	ctx := e.as(tn, "contract")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ops atomic.Int64
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s := &skjold.Subject{Ref: fmt.Sprintf("L%d-%d", w, i), Name: "Load Subject"}
				err := e.db.CreateSubject(ctx, s)
				if err == nil {
					_, err = e.db.FindSubjectByID(ctx, s.ID)
				}
				if err != nil {
					errs <- fmt.Errorf("client %d: %w", w, err)
					return
				}
				ops.Add(1)
			}
		})
	}
	// A longer chain takes longer to walk, which is when appends used to slip in between.
	deadline := time.Now().Add(30 * time.Second)
	for ops.Load() < 300 && time.Now().Before(deadline) && len(errs) == 0 {
		runtime.Gosched()
	}
	var last int64
	for i := range 50 {
		rep, err := e.db.VerifyAuditChain(t.Context())
		if err != nil {
			t.Errorf("verify %d of 50 under load: %v", i+1, err)
		} else if rep.Length < last {
			t.Errorf("verify %d of 50: chain length %d, shorter than the %d seen before", i+1, rep.Length, last)
		} else {
			last = rep.Length
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ops.Load() == 0 {
		t.Fatal("the clients made no writes while the chain was verified")
	}
}
