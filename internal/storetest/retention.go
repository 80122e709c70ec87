package storetest

import (
	"database/sql"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// day is a calendar day of the test clock (no daylight saving in UTC).
const day = 24 * time.Hour

// TestRetention checks the retention engine [D1, D2, D3, A6]: the anchors each trigger sets,
// the sweep erasing what has expired and nothing else, holds stopping it, subjects expiring
// with their relationship, pending erasures finishing, expired hand-over copies going, the
// sweep's report, its batches, and the dry run.
func TestRetention(t *testing.T, h Harness) {
	t.Run("Anchors", func(t *testing.T) { testRetentionAnchors(t, h) })
	t.Run("Relationship", func(t *testing.T) { testRetentionRelationship(t, h) })
	t.Run("Triggers", func(t *testing.T) { testRetentionTriggers(t, h) })
	t.Run("CategoryChange", func(t *testing.T) { testRetentionCategoryChange(t, h) })
	t.Run("Unanchored", func(t *testing.T) { testRetentionUnanchored(t, h) })
	t.Run("Holds", func(t *testing.T) { testRetentionHolds(t, h) })
	t.Run("Prospects", func(t *testing.T) { testRetentionProspects(t, h) })
	t.Run("Restriction", func(t *testing.T) { testRetentionRestriction(t, h) })
	t.Run("EndedRelationship", func(t *testing.T) { testRetentionEnded(t, h) })
	t.Run("PendingErasure", func(t *testing.T) { testRetentionPending(t, h) })
	t.Run("Downloads", func(t *testing.T) { testRetentionDownloads(t, h) })
	t.Run("Report", func(t *testing.T) { testRetentionReport(t, h) })
	t.Run("Batches", func(t *testing.T) { testRetentionBatches(t, h) })
	t.Run("PlanMatchesSweep", func(t *testing.T) { testRetentionPlan(t, h) })
	t.Run("Refused", func(t *testing.T) { testRetentionRefused(t, h) })
}

// set moves the clock to t.
func (c *Clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// retainFrom returns a record's stored anchor.
func (e *env) retainFrom(raw *sql.DB, id string) sql.NullInt64 {
	e.t.Helper()
	var v sql.NullInt64
	if err := raw.QueryRow(e.rebind("SELECT retain_from FROM records WHERE id = ?"), id).Scan(&v); err != nil {
		e.t.Fatalf("retain_from of %s: %v", id, err)
	}
	return v
}

// wantAnchor fails the test unless a record's anchor is want (nil: NULL).
func (e *env) wantAnchor(raw *sql.DB, id string, want *time.Time) {
	e.t.Helper()
	got := e.retainFrom(raw, id)
	switch {
	case want == nil && got.Valid:
		e.t.Errorf("retain_from of %s = %v, want NULL", id, time.UnixMicro(got.Int64).UTC())
	case want != nil && (!got.Valid || got.Int64 != want.UnixMicro()):
		e.t.Errorf("retain_from of %s = %v (set %v), want %v", id, time.UnixMicro(got.Int64).UTC(), got.Valid, want.UTC())
	}
}

// sweep runs a retention sweep and fails the test on error.
func (e *env) sweep(batch int) *skjold.SweepReport {
	e.t.Helper()
	rep, err := e.db.Sweep(e.t.Context(), batch)
	if err != nil {
		e.t.Fatalf("Sweep: %v", err)
	}
	return rep
}

// recordsLeft returns which of ids still exist.
func (e *env) recordsLeft(raw *sql.DB, ids ...string) []string {
	e.t.Helper()
	var left []string
	for _, id := range ids {
		if e.rawCount(raw, "SELECT COUNT(*) FROM records WHERE id = ?", id) > 0 {
			left = append(left, id)
		}
	}
	return left
}

// subjectExists reports whether the subject's row is still there.
func (e *env) subjectExists(raw *sql.DB, id string) bool {
	e.t.Helper()
	return e.rawCount(raw, "SELECT COUNT(*) FROM subjects WHERE id = ?", id) > 0
}

// at returns a date as midnight UTC.
func at(date string) time.Time {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		panic(err)
	}
	return t
}

func person(name string) *skjold.Subject { return &skjold.Subject{Name: name} }

func enquiry() map[string]any { return map[string]any{"message": "Do you fly to Svalbard?"} }

func invoiceOn(date string) map[string]any {
	return map[string]any{"invoice_number": "INV-" + date, "invoice_date": date, "amount": 100.0}
}

func tripOn(date string) map[string]any {
	return map[string]any{"booking_reference": "B" + date, "kind": "rail", "departure_date": date}
}

func testRetentionAnchors(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	s := e.newSubject(ctx, anna())
	raw := e.raw()
	created := e.newRecord(ctx, s.ID, "enquiry", enquiry())
	trip := e.newRecord(ctx, s.ID, "travel_booking", tripOn("2025-06-01"))
	slot := e.newRecord(ctx, s.ID, "reservation", map[string]any{"service": "Sauna", "starts_at": "2025-05-02T18:30:00+02:00"})
	contact := e.newRecord(ctx, s.ID, "contact", map[string]any{"city": "Bergen"})
	e.wantAnchor(raw, created.ID, &created.CreatedAt)
	e.wantAnchor(raw, trip.ID, ptr(at("2025-06-01")))
	e.wantAnchor(raw, slot.ID, ptr(time.Date(2025, 5, 2, 16, 30, 0, 0, time.UTC)))
	e.wantAnchor(raw, contact.ID, nil) // the relationship lasts

	e.clock.Add(day)
	_, err := e.db.UpdateRecord(ctx, trip.ID, map[string]any{"departure_date": "2025-09-30"})
	must(t, err)
	e.wantAnchor(raw, trip.ID, ptr(at("2025-09-30")))
	_, err = e.db.UpdateRecord(ctx, trip.ID, map[string]any{"destination": "Oslo"})
	must(t, err)
	e.wantAnchor(raw, trip.ID, ptr(at("2025-09-30")))
}

func testRetentionRelationship(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	raw := e.raw()
	s := e.newSubject(ctx, anna())
	if s.Relationship != skjold.RelationshipActive {
		t.Errorf("new subject's relationship = %q, want active", s.Relationship)
	}
	contact := e.newRecord(ctx, s.ID, "contact", map[string]any{"city": "Bergen"})
	enq := e.newRecord(ctx, s.ID, "enquiry", enquiry())
	e.clock.Add(10 * day)
	ended := e.clock.Now()
	must(t, e.db.SetRelationship(ctx, s.ID, skjold.RelationshipEnded))
	got, err := e.db.FindSubjectByID(ctx, s.ID)
	must(t, err)
	if got.Relationship != skjold.RelationshipEnded || got.RelationshipEndedAt == nil || !got.RelationshipEndedAt.Equal(ended) {
		t.Errorf("after ending: relationship %q ended %v, want ended at %v", got.Relationship, got.RelationshipEndedAt, ended)
	}
	e.wantAnchor(raw, contact.ID, &ended)
	e.wantAnchor(raw, enq.ID, &enq.CreatedAt) // counted from creation: not moved
	later := e.newRecord(ctx, s.ID, "identity", map[string]any{"nationality": "NO"})
	e.wantAnchor(raw, later.ID, &ended) // a record of an ended relationship counts from its end

	e.clock.Add(day)
	must(t, e.db.SetRelationship(ctx, s.ID, skjold.RelationshipEnded)) // again: the first end stands
	e.wantAnchor(raw, contact.ID, &ended)
	must(t, e.db.SetRelationship(ctx, s.ID, skjold.RelationshipActive))
	got, err = e.db.FindSubjectByID(ctx, s.ID)
	must(t, err)
	if got.Relationship != skjold.RelationshipActive || got.RelationshipEndedAt != nil {
		t.Errorf("after reactivating: relationship %q ended %v, want active and no end", got.Relationship, got.RelationshipEndedAt)
	}
	e.wantAnchor(raw, contact.ID, nil)
	e.wantAnchor(raw, later.ID, nil)

	p := person("Enquirer")
	p.Relationship = skjold.RelationshipProspect
	e.newSubject(ctx, p)
	got, err = e.db.FindSubjectByID(ctx, p.ID)
	must(t, err)
	if got.Relationship != skjold.RelationshipProspect {
		t.Errorf("prospect read back as %q", got.Relationship)
	}
}

func testRetentionTriggers(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	raw := e.raw()
	s := e.newSubject(ctx, anna())
	enq := e.newRecord(ctx, s.ID, "enquiry", enquiry())                        // P30D from creation
	trip := e.newRecord(ctx, s.ID, "travel_booking", tripOn("2025-04-01"))     // P3Y from 2025-04-01
	inv := e.newRecord(ctx, s.ID, "invoice", invoiceOn("2025-01-15"))          // P5Y from 2025-01-15
	contact := e.newRecord(ctx, s.ID, "contact", map[string]any{"city": "Bø"}) // P3Y from the end: never, while active
	all := []string{enq.ID, trip.ID, inv.ID, contact.ID}

	e.clock.Add(29 * day)
	e.sweep(500)
	if left := e.recordsLeft(raw, all...); len(left) != 4 {
		t.Fatalf("a sweep before any period ended erased records; left %v", left)
	}
	e.clock.Add(day)
	if rep := e.sweep(500); rep.ErasedRecords != 1 {
		t.Errorf("sweep on the enquiry's 30th day erased %d records, want 1", rep.ErasedRecords)
	}
	want := []string{trip.ID, inv.ID, contact.ID}
	if left := e.recordsLeft(raw, all...); !slices.Equal(left, want) {
		t.Fatalf("after 30 days left %v, want %v", left, want)
	}
	e.clock.set(time.Date(2028, 3, 31, 23, 0, 0, 0, time.UTC))
	e.sweep(500)
	if left := e.recordsLeft(raw, all...); !slices.Equal(left, want) {
		t.Fatalf("the day before the trip's period ends left %v, want %v", left, want)
	}
	e.clock.set(at("2028-04-01"))
	e.sweep(500)
	want = []string{inv.ID, contact.ID}
	if left := e.recordsLeft(raw, all...); !slices.Equal(left, want) {
		t.Fatalf("when the trip's period ends left %v, want %v", left, want)
	}
	e.clock.set(at("2030-01-15"))
	e.sweep(500)
	want = []string{contact.ID}
	if left := e.recordsLeft(raw, all...); !slices.Equal(left, want) {
		t.Fatalf("when the invoice's period ends left %v, want %v", left, want)
	}
	e.clock.set(at("2045-01-01"))
	e.sweep(500)
	if left := e.recordsLeft(raw, all...); !slices.Equal(left, want) || !e.subjectExists(raw, s.ID) {
		t.Errorf("an active relationship expired: left %v, subject there %v", left, e.subjectExists(raw, s.ID))
	}
}

func testRetentionCategoryChange(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	raw := e.raw()
	s := e.newSubject(ctx, anna())
	enq := e.newRecord(ctx, s.ID, "enquiry", enquiry())
	cat, err := e.db.FindCategory(ctx, "enquiry")
	must(t, err)
	e.clock.Add(8 * day)
	e.sweep(500)
	if len(e.recordsLeft(raw, enq.ID)) != 1 {
		t.Fatal("an 8-day-old enquiry was erased under P30D")
	}
	cat.Retention.Period = "P1W"
	_, err = e.db.PutCategory(ctx, cat)
	must(t, err)
	e.sweep(500)
	if len(e.recordsLeft(raw, enq.ID)) != 0 {
		t.Error("a shorter period did not take effect at the next sweep")
	}

	// A new trigger moves the anchors of the category's records.
	loy := loyalty()
	loy.Retention = skjold.Retention{Period: "P1Y", From: skjold.RetentionFromCreated}
	_, err = e.db.PutCategory(ctx, loy)
	must(t, err)
	joined := e.newRecord(ctx, s.ID, "loyalty", map[string]any{"member_number": "M1", "joined": "2020-02-02"})
	empty := e.newRecord(ctx, s.ID, "loyalty", map[string]any{"member_number": "M2"})
	e.wantAnchor(raw, joined.ID, &joined.CreatedAt)
	steps := []struct {
		from       string
		joined, mt *time.Time
	}{
		{"field:joined", ptr(at("2020-02-02")), &empty.CreatedAt}, // an empty date field counts from creation
		{skjold.RetentionFromRelationship, nil, nil},
		{skjold.RetentionFromCreated, &joined.CreatedAt, &empty.CreatedAt},
	}
	for _, st := range steps {
		loy.Retention.From = st.from
		_, err = e.db.PutCategory(ctx, loy)
		must(t, err)
		e.wantAnchor(raw, joined.ID, st.joined)
		e.wantAnchor(raw, empty.ID, st.mt)
	}
}

func testRetentionUnanchored(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	raw := e.raw()
	s := e.newSubject(ctx, anna())
	var old, recent []string
	for range 5 {
		old = append(old, e.newRecord(ctx, s.ID, "travel_booking", tripOn("2021-01-01")).ID)
		recent = append(recent, e.newRecord(ctx, s.ID, "travel_booking", tripOn("2025-01-01")).ID)
	}
	// Records stored before schema 6 have no anchor yet: the sweep reads it from the date.
	e.rawExec(raw, "UPDATE records SET retain_from = NULL")
	plan, err := e.db.PlanRetention(ctx, 1)
	must(t, err)
	if len(plan) != len(old) {
		t.Errorf("the plan lists %d unanchored records, want %d", len(plan), len(old))
	}
	rep := e.sweep(2) // several fill batches
	if rep.ErasedRecords != len(old) || len(e.recordsLeft(raw, old...)) != 0 {
		t.Errorf("sweep erased %d, left %v of the expired trips", rep.ErasedRecords, e.recordsLeft(raw, old...))
	}
	for _, id := range recent {
		e.wantAnchor(raw, id, ptr(at("2025-01-01")))
	}
}

func testRetentionHolds(t *testing.T, h Harness) {
	for _, tc := range []struct {
		name string
		hold func(s *skjold.Subject) *skjold.Hold
	}{
		{"Subject", func(s *skjold.Subject) *skjold.Hold { return &skjold.Hold{SubjectID: s.ID, Reason: "dispute 17"} }},
		{"Tenant", func(*skjold.Subject) *skjold.Hold { return &skjold.Hold{Reason: "tax audit"} }},
		{"Category", func(*skjold.Subject) *skjold.Hold {
			return &skjold.Hold{Category: "enquiry", Reason: "complaints review"}
		}},
		{"SubjectCategory", func(s *skjold.Subject) *skjold.Hold {
			return &skjold.Hold{SubjectID: s.ID, Category: "enquiry", Reason: "dispute 18"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, h)
			ctx := e.as(e.newTenant("Tenant A"), "")
			raw := e.raw()
			s := e.newSubject(ctx, anna())
			other := e.newSubject(ctx, person("Other"))
			held := e.newRecord(ctx, s.ID, "enquiry", enquiry())
			free := e.newRecord(ctx, other.ID, "training_enrollment", map[string]any{"course": "First aid", "start_date": "2025-03-01"})
			hold := tc.hold(s)
			must(t, e.db.PlaceHold(ctx, hold))
			e.clock.set(e.clock.Now().AddDate(6, 0, 0))
			e.sweep(500)
			if left := e.recordsLeft(raw, held.ID); len(left) != 1 {
				t.Fatal("the sweep erased a held record")
			}
			plan, err := e.db.PlanRetention(ctx, 1)
			must(t, err)
			for _, d := range plan {
				if d.RecordID == held.ID {
					t.Error("the plan lists a held record")
				}
			}
			if tc.name != "Tenant" && len(e.recordsLeft(raw, free.ID)) != 0 {
				t.Error("a hold kept a record it does not cover")
			}
			must(t, e.db.ReleaseHold(ctx, hold.ID))
			e.sweep(500)
			if left := e.recordsLeft(raw, held.ID, free.ID); len(left) != 0 {
				t.Errorf("after the release the sweep left %v", left)
			}
		})
	}

	t.Run("Until", func(t *testing.T) {
		e := newEnv(t, h)
		ctx := e.as(e.newTenant("Tenant A"), "")
		raw := e.raw()
		s := e.newSubject(ctx, anna())
		rec := e.newRecord(ctx, s.ID, "enquiry", enquiry())
		must(t, e.db.PlaceHold(ctx, &skjold.Hold{SubjectID: s.ID, Reason: "until spring", Until: ptr(epoch.AddDate(0, 3, 0))}))
		e.clock.Add(60 * day)
		e.sweep(500)
		if len(e.recordsLeft(raw, rec.ID)) != 1 {
			t.Fatal("a hold in force did not stop the sweep")
		}
		e.clock.Add(40 * day)
		e.sweep(500)
		if len(e.recordsLeft(raw, rec.ID)) != 0 {
			t.Error("a hold past its end still stopped the sweep")
		}
	})
}

func testRetentionProspects(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	raw := e.raw()
	p := person("Enquirer")
	p.Relationship = skjold.RelationshipProspect
	e.newSubject(ctx, p)
	e.newRecord(ctx, p.ID, "enquiry", enquiry())
	e.newRecord(ctx, p.ID, "contact", map[string]any{"city": "Tromsø"})
	customer := e.newSubject(ctx, anna())

	e.clock.Add(skjold.DefaultProspectDays*day - time.Minute)
	e.sweep(500)
	if !e.subjectExists(raw, p.ID) {
		t.Fatal("a prospect expired before 30 days")
	}
	e.clock.Add(time.Minute)
	rep := e.sweep(500)
	if e.subjectExists(raw, p.ID) || rep.ErasedSubjects != 1 {
		t.Fatalf("a 30-day-old prospect was not erased (erased subjects %d)", rep.ErasedSubjects)
	}
	if n := e.rawCount(raw, "SELECT COUNT(*) FROM records WHERE subject_id = ?", p.ID); n != 0 {
		t.Errorf("%d records of the erased prospect remain", n)
	}
	journal, err := e.db.FindJournal(e.op, 0, 10)
	must(t, err)
	if len(journal) != 1 || journal[0].SubjectID != p.ID || journal[0].Reason != skjold.ErasedByRetention || journal[0].TenantID != tn.ID {
		t.Errorf("journal = %+v, want one retention erasure of the prospect", journal)
	}

	e.clock.set(e.clock.Now().AddDate(20, 0, 0))
	e.sweep(500)
	if !e.subjectExists(raw, customer.ID) {
		t.Error("an active subject expired")
	}
}

// testRetentionRestriction: a subject who restricts processing instead of erasure needs the
// data kept, so the sweep leaves it alone until the restriction is lifted.
func testRetentionRestriction(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	raw := e.raw()
	p := person("Enquirer")
	p.Relationship = skjold.RelationshipProspect
	e.newSubject(ctx, p)
	enq := e.newRecord(ctx, p.ID, "enquiry", enquiry())
	must(t, e.db.SetRestriction(ctx, p.ID, true))

	e.clock.Add(2 * skjold.DefaultProspectDays * day)
	if rep := e.sweep(500); rep.ErasedRecords != 0 || rep.ErasedSubjects != 0 {
		t.Fatalf("the sweep erased %d records and %d subjects of a restricted subject", rep.ErasedRecords, rep.ErasedSubjects)
	}
	if !e.subjectExists(raw, p.ID) || len(e.recordsLeft(raw, enq.ID)) != 1 {
		t.Fatal("a restricted subject's data was erased by retention")
	}
	must(t, e.db.SetRestriction(ctx, p.ID, false))
	if rep := e.sweep(500); rep.ErasedRecords != 1 || rep.ErasedSubjects != 1 || e.subjectExists(raw, p.ID) {
		t.Fatalf("after lifting the restriction the sweep erased %d records, %d subjects", rep.ErasedRecords, rep.ErasedSubjects)
	}
}

func testRetentionEnded(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	raw := e.raw()
	s := e.newSubject(ctx, anna())
	contact := e.newRecord(ctx, s.ID, "contact", map[string]any{"city": "Bergen"}) // P3Y from the end
	course := e.newRecord(ctx, s.ID, "training_enrollment", map[string]any{"course": "Sailing", "start_date": "2025-03-01"})
	must(t, e.db.SetRelationship(ctx, s.ID, skjold.RelationshipEnded))
	ended := e.clock.Now()

	e.clock.set(ended.AddDate(3, 0, 0).Add(-time.Hour))
	e.sweep(500)
	if len(e.recordsLeft(raw, contact.ID)) != 1 || !e.subjectExists(raw, s.ID) {
		t.Fatal("an ended relationship expired before its period")
	}
	e.clock.set(ended.AddDate(3, 0, 0))
	e.sweep(500)
	if len(e.recordsLeft(raw, contact.ID)) != 0 {
		t.Error("records counted from the end were not erased when the period passed")
	}
	if !e.subjectExists(raw, s.ID) {
		t.Fatal("the subject was erased while a record of it had time left (training, P5Y from creation)")
	}
	e.clock.set(course.CreatedAt.AddDate(5, 0, 0))
	rep := e.sweep(500)
	if e.subjectExists(raw, s.ID) || rep.ErasedSubjects != 1 || rep.ErasedRecords != 1 {
		t.Errorf("with its last record gone the ended subject stayed (report %+v)", rep)
	}
}

func testRetentionPending(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	raw := e.raw()
	s := e.newSubject(ctx, anna())
	inv := e.newRecord(ctx, s.ID, "invoice", invoiceOn("2025-02-10"))
	e.newRecord(ctx, s.ID, "enquiry", enquiry())
	rep, err := e.db.EraseSubject(ctx, s.ID, skjold.ErasedOnRequest)
	must(t, err)
	if rep.Complete {
		t.Fatal("erasure with an invoice in its statutory period reported complete")
	}
	e.clock.set(at("2030-02-09"))
	before := len(e.events(0))
	e.sweep(500)
	if !e.subjectExists(raw, s.ID) || len(e.recordsLeft(raw, inv.ID)) != 1 {
		t.Fatal("a pending erasure finished while the invoice was still kept")
	}
	for _, ev := range e.events(0)[before:] {
		if ev.Action == "subject.erase" {
			t.Error("a sweep that erased nothing left a subject.erase receipt")
		}
	}
	e.clock.set(at("2030-02-10"))
	sw := e.sweep(500)
	if e.subjectExists(raw, s.ID) || len(e.recordsLeft(raw, inv.ID)) != 0 || sw.ErasedSubjects != 1 {
		t.Fatalf("when the invoice's period ended the pending erasure did not finish (report %+v)", sw)
	}
	journal, err := e.db.FindJournal(e.op, 0, 10)
	must(t, err)
	// The request's partial erasure, then the sweep's finishing one.
	if len(journal) != 2 || journal[1].SubjectID != s.ID || journal[0].Reason != skjold.ErasedOnRequest ||
		journal[1].Reason != skjold.ErasedByRetention {
		t.Errorf("journal = %s, want the request's line and the finished erasure's", mustJSON(t, journal))
	}
}

func testRetentionDownloads(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	raw := e.raw()
	s := e.newSubject(ctx, anna())
	now := e.clock.Now()
	for i, expires := range []time.Time{now.Add(-time.Second), now.Add(time.Hour), now.Add(-skjold.DefaultHandoverDays * day)} {
		id := "0193d6a4-0000-7000-8000-00000000000" + string(rune('1'+i))
		e.rawExec(raw, `INSERT INTO downloads (id, tenant_id, subject_id, request_id, token_hash, content, created_at, expires_at)
			VALUES (?, ?, ?, 'r', ?, ?, ?, ?)`, id, tn.ID, s.ID, []byte(id), []byte("package"), now.UnixMicro(), expires.UnixMicro())
	}
	rep := e.sweep(1)
	if rep.Downloads != 2 {
		t.Errorf("sweep removed %d downloads, want the 2 expired", rep.Downloads)
	}
	if n := e.rawCount(raw, "SELECT COUNT(*) FROM downloads WHERE expires_at > ?", now.UnixMicro()); n != 1 {
		t.Errorf("%d unexpired downloads left, want 1", n)
	}
	if n := e.rawCount(raw, "SELECT COUNT(*) FROM downloads"); n != 1 {
		t.Errorf("%d downloads left, want 1", n)
	}
}

func testRetentionReport(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("Tenant A"), e.newTenant("Tenant B")
	for _, tn := range []*tenant{a, b} {
		ctx := e.as(tn, "")
		s := e.newSubject(ctx, anna())
		for range 3 {
			e.newRecord(ctx, s.ID, "enquiry", enquiry())
		}
		p := person("Prospect")
		p.Relationship = skjold.RelationshipProspect
		e.newSubject(ctx, p)
	}
	e.newRecord(e.as(a, ""), e.newSubject(e.as(a, ""), person("T")).ID, "travel_booking", tripOn("2025-01-01"))
	// A terminated tenant is not swept (its data is gone with its key).
	e.rawExec(e.raw(), "UPDATE tenants SET status = 'terminated' WHERE id = ?", b.ID)
	seq := e.lastSeq()
	e.clock.Add(31 * day)
	rep := e.sweep(500)
	if rep.ErasedRecords != 3 || rep.ErasedSubjects != 1 || rep.ByCategory[a.ID+"/enquiry"] != 3 || len(rep.ByCategory) != 1 {
		t.Errorf("report %+v, want tenant A's 3 enquiries and 1 prospect", rep)
	}
	var sweeps []*skjold.AuditEvent
	for _, ev := range e.events(seq) {
		if ev.Action == "retention.sweep" {
			sweeps = append(sweeps, ev)
		}
	}
	if len(sweeps) != 1 {
		t.Fatalf("%d retention.sweep events, want 1", len(sweeps))
	}
	want := []string{"erased_records:3", "erased_subjects:1", "expired_downloads:0", a.ID + "/enquiry:3"}
	if got := sweeps[0].Fields; !slices.Equal(got, want) || sweeps[0].Actor != "system:retention" {
		t.Errorf("sweep event by %s fields %v, want %v", sweeps[0].Actor, got, want)
	}
	if _, err := e.db.VerifyAuditChain(e.t.Context()); err != nil {
		t.Errorf("audit chain after a sweep: %v", err)
	}
}

func testRetentionBatches(t *testing.T, h Harness) {
	for _, tc := range []struct{ records, batch, held int }{{1234, 100, 0}, {1200, 100, 0}, {250, 100, 7}, {3, 1, 1}} {
		t.Run(fmt.Sprintf("%dBy%dHeld%d", tc.records, tc.batch, tc.held), func(t *testing.T) {
			e := newEnv(t, h)
			ctx := e.as(e.newTenant("Tenant A"), "")
			raw := e.raw()
			s := e.newSubject(ctx, anna())
			heldSubject := e.newSubject(ctx, person("Held"))
			copyRecords(e, raw, s.ID, tc.records-tc.held, 0)
			copyRecords(e, raw, heldSubject.ID, tc.held, 1) // anchors among the others
			must(t, e.db.PlaceHold(ctx, &skjold.Hold{SubjectID: heldSubject.ID, Reason: "dispute"}))
			e.clock.Add(31 * day)

			var commits atomic.Int64
			opts := e.options(e.keys)
			opts.Observe = func(op string, _ time.Duration) {
				if op == "commit" {
					commits.Add(1)
				}
			}
			db := e.h.Reopen(t, e.db, opts)
			rep, err := db.Sweep(t.Context(), tc.batch)
			must(t, err)
			want := tc.records - tc.held
			if rep.ErasedRecords != want {
				t.Errorf("sweep erased %d records, want %d", rep.ErasedRecords, want)
			}
			if n := e.rawCount(raw, "SELECT COUNT(*) FROM records"); n != tc.held {
				t.Errorf("%d records left, want the %d held", n, tc.held)
			}
			if least := (want + tc.batch - 1) / tc.batch; commits.Load() < int64(least) {
				t.Errorf("%d commits for %d records in batches of %d, want at least %d", commits.Load(), want, tc.batch, least)
			}
		})
	}
}

// copyRecords inserts n expired enquiries of a subject straight into the database, each
// with the same sealed bytes (the sweep does not open records counted from creation),
// anchored two seconds apart from an hour before the epoch, plus odd seconds.
func copyRecords(e *env, raw *sql.DB, subjectID string, n, odd int) {
	e.t.Helper()
	var tenantID string
	if err := raw.QueryRow(e.rebind("SELECT tenant_id FROM subjects WHERE id = ?"), subjectID).Scan(&tenantID); err != nil {
		e.t.Fatal(err)
	}
	tx, err := raw.Begin()
	if err != nil {
		e.t.Fatal(err)
	}
	defer tx.Rollback()
	base := epoch.Add(-time.Hour).UnixMicro()
	for i := range n {
		anchor := base + int64(2*i+odd)*1_000_000
		_, err := tx.Exec(e.rebind(`INSERT INTO records (id, tenant_id, subject_id, category, fields, created_at, updated_at, retain_from)
			VALUES (?, ?, ?, 'enquiry', ?, ?, ?, ?)`), fmt.Sprintf("0193d6a4-0000-7000-8%03d-%012d", odd, i), tenantID, subjectID,
			[]byte("sealed"), anchor, anchor, anchor)
		if err != nil {
			e.t.Fatal(err)
		}
	}
	must(e.t, tx.Commit())
}

func testRetentionPlan(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	raw := e.raw()
	s := e.newSubject(ctx, anna())
	heldS := e.newSubject(ctx, person("Held"))
	p := person("Prospect")
	p.Relationship = skjold.RelationshipProspect
	e.newSubject(ctx, p)
	var all []string
	for i, d := range []string{"2022-03-20", "2022-04-09", "2022-04-10", "2022-05-01"} {
		all = append(all, e.newRecord(ctx, s.ID, "travel_booking", tripOn(d)).ID)
		e.clock.Add(time.Duration(i) * day)
		all = append(all, e.newRecord(ctx, s.ID, "enquiry", enquiry()).ID)
	}
	all = append(all, e.newRecord(ctx, heldS.ID, "enquiry", enquiry()).ID)
	must(t, e.db.PlaceHold(ctx, &skjold.Hold{SubjectID: heldS.ID, Reason: "dispute"}))

	plan, err := e.db.PlanRetention(ctx, 40)
	must(t, err)
	var planned []string
	subjects := 0
	for i, d := range plan {
		if i > 0 && d.DueAt.Before(plan[i-1].DueAt) {
			t.Errorf("plan not ordered by due date at %d", i)
		}
		if d.RecordID == "" {
			subjects++
			if d.SubjectID != p.ID {
				t.Errorf("the plan lists subject %s, want only the prospect", d.SubjectID)
			}
			continue
		}
		planned = append(planned, d.RecordID)
	}
	if subjects != 1 {
		t.Errorf("the plan lists %d subjects, want the prospect", subjects)
	}
	e.clock.Add(40 * day)
	e.sweep(500)
	left := e.recordsLeft(raw, all...)
	var erased []string
	for _, id := range all {
		if !slices.Contains(left, id) {
			erased = append(erased, id)
		}
	}
	slices.Sort(planned)
	slices.Sort(erased)
	if !slices.Equal(planned, erased) || len(erased) == 0 || len(left) == 0 {
		t.Errorf("the plan listed %v, the sweep 40 days later erased %v", planned, erased)
	}
	if e.subjectExists(raw, p.ID) {
		t.Error("the planned prospect was not erased")
	}
}

func testRetentionRefused(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	s := e.newSubject(ctx, anna())
	for _, batch := range []int{0, -1, store.MaxSweepBatch + 1} {
		_, err := e.db.Sweep(e.t.Context(), batch)
		wantCode(t, err, skjold.EINVALID)
	}
	for _, days := range []int{0, -5, 367} {
		_, err := e.db.PlanRetention(ctx, days)
		wantCode(t, err, skjold.EINVALID)
	}
	_, err := e.db.PlanRetention(e.op, 30)
	wantCode(t, err, skjold.EFORBIDDEN)
	wantCode(t, e.db.SetRelationship(ctx, s.ID, "over"), skjold.EINVALID)
	wantCode(t, e.db.SetRelationship(ctx, "0193d6a4-0000-7000-8000-000000000099", skjold.RelationshipEnded), skjold.ENOTFOUND)
	other := e.as(e.newTenant("Tenant B"), "")
	wantCode(t, e.db.SetRelationship(other, s.ID, skjold.RelationshipEnded), skjold.ENOTFOUND)
	bad := person("Ended already")
	bad.Relationship = skjold.RelationshipEnded
	wantCode(t, e.db.CreateSubject(ctx, bad), skjold.EINVALID)
	got, err := e.db.FindSubjectByID(ctx, s.ID)
	must(t, err)
	if got.Relationship != skjold.RelationshipActive {
		t.Errorf("refused changes moved the relationship to %q", got.Relationship)
	}
}
