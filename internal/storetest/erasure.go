package storetest

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// TestErasure checks erasure with statutory retention and legal holds [C3, D2, D4]: what is
// erased is gone from the rows and, for SQLite, from the database's files; what a hold or
// a legal obligation keeps survives, still readable, with the reason and end in the report;
// holds are placed, listed and released per tenant.
func TestErasure(t *testing.T, h Harness) {
	t.Run("KeepsStatutory", func(t *testing.T) { testErasureKeepsStatutory(t, h) })
	t.Run("Complete", func(t *testing.T) { testErasureComplete(t, h) })
	t.Run("ReaderHeldOpen", func(t *testing.T) { testErasureReaderHeldOpen(t, h) })
	t.Run("ExpiredObligation", func(t *testing.T) { testErasureExpiredObligation(t, h) })
	t.Run("LegalHold", func(t *testing.T) { testErasureLegalHold(t, h) })
	t.Run("HoldEnds", func(t *testing.T) { testErasureHoldEnds(t, h) })
	t.Run("KeptStaysRestricted", func(t *testing.T) { testErasureKeptStaysRestricted(t, h) })
	t.Run("Guardian", func(t *testing.T) { testErasureGuardian(t, h) })
	t.Run("Refused", func(t *testing.T) { testErasureRefused(t, h) })
	t.Run("Holds", func(t *testing.T) { testHolds(t, h) })
	t.Run("HoldsRefused", func(t *testing.T) { testHoldsRefused(t, h) })
	t.Run("Hook", func(t *testing.T) { testErasureHook(t, h) })
}

// zebulonInvoice is an invoice whose values appear nowhere else.
func zebulonInvoice() map[string]any {
	return map[string]any{"invoice_number": "ZINV-551237", "invoice_date": "2025-02-10", "amount": 4711.25,
		"description": "Quixotic galley upgrade"}
}

// sealedRow is what a row held of a subject before erasure: the wrapped key and the sealed
// blobs, and each sealed value as its stored (base64) text.
type sealedRow struct {
	what   string
	blob   []byte
	values map[string][]byte
}

// needles returns the blob and each sealed value as they are written to disk.
func (r sealedRow) needles() [][]byte {
	n := [][]byte{r.blob}
	for _, v := range r.values {
		n = append(n, []byte(base64.StdEncoding.EncodeToString(v)))
	}
	return n
}

// captureSealed reads a row's sealed fields column as stored.
func (e *env) captureSealed(t *testing.T, raw *sql.DB, what, q, id string) sealedRow {
	t.Helper()
	r := sealedRow{what: what}
	must(t, raw.QueryRow(e.rebind(q), id).Scan(&r.blob))
	must(t, json.Unmarshal(r.blob, &r.values))
	if len(r.values) == 0 {
		t.Fatalf("%s holds no sealed values", what)
	}
	return r
}

// where returns the places a needle is stored: table.column of a row (each engine), or a
// file of the database (SQLite).
func (e *env) where(t *testing.T, needle []byte) (rows, files []string) {
	t.Helper()
	e.scanRows(t, func(table, column string, v []byte) {
		if bytes.Contains(v, needle) {
			rows = append(rows, table+"."+column)
		}
	})
	for _, f := range e.h.RawFiles(e.db) {
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		must(t, err)
		if bytes.Contains(b, needle) {
			files = append(files, filepath.Base(f))
		}
	}
	return rows, files
}

// wantStored fails the test unless every needle is in a row and (SQLite) in the files: the
// checks that they are gone later are worthless otherwise.
func (e *env) wantStored(t *testing.T, what string, needles [][]byte) {
	t.Helper()
	for i, n := range needles {
		rows, files := e.where(t, n)
		if len(rows) == 0 || (e.h.Engine == store.SQLite && len(files) == 0) {
			t.Fatalf("%s, part %d, is stored in rows %v and files %v", what, i, rows, files)
		}
	}
}

// wantGone fails the test if any needle is in a row or a file of the database.
func (e *env) wantGone(t *testing.T, what string, needles [][]byte) {
	t.Helper()
	for i, n := range needles {
		if rows, files := e.where(t, n); len(rows)+len(files) > 0 {
			t.Errorf("%s, part %d, remains in rows %v and files %v", what, i, rows, files)
		}
	}
}

// wantKept fails the test unless the report kept exactly want, in any order.
func wantKept(t *testing.T, rep *skjold.ErasureReport, want ...skjold.Kept) {
	t.Helper()
	ok := len(rep.Kept) == len(want)
	for _, w := range want {
		ok = ok && slices.ContainsFunc(rep.Kept, func(k skjold.Kept) bool {
			return k.Category == w.Category && k.Count == w.Count && k.Reason == w.Reason &&
				(k.Until == nil) == (w.Until == nil) && (k.Until == nil || k.Until.Equal(*w.Until))
		})
	}
	if !ok {
		t.Errorf("kept %s, want %s", mustJSON(t, rep.Kept), mustJSON(t, want))
	}
}

// journalOf returns the erasure journal lines naming subjectID.
func (e *env) journalOf(t *testing.T, subjectID string) []*skjold.JournalEntry {
	t.Helper()
	all, err := e.db.FindJournal(e.op, 0, skjold.MaxPageLimit)
	must(t, err)
	var out []*skjold.JournalEntry
	for _, j := range all {
		if j.SubjectID == subjectID {
			out = append(out, j)
		}
	}
	return out
}

// testErasureKeepsStatutory erases a subject with a travel booking and an invoice: the
// invoice stays under the accounting law's five years, still readable, and everything else
// of the subject is gone from the rows and (SQLite) from the files on disk.
func testErasureKeepsStatutory(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, zebulon())
	trip := e.newRecord(ctx, s.ID, "travel_booking", zebulonTrip())
	inv := e.newRecord(ctx, s.ID, "invoice", zebulonInvoice())
	other := e.newSubject(ctx, anna())
	otherTrip := e.newRecord(ctx, other.ID, "travel_booking", booking())
	raw := e.raw()
	e.rawExec(raw, `INSERT INTO consents (id, tenant_id, subject_id, purpose, granted, source, notice_version, created_at)
		VALUES ('0193d6a4-0000-7000-8000-0000000000c1', ?, ?, 'newsletter', 1, 'api', 1, 0)`, tn.ID, s.ID)
	e.rawExec(raw, `INSERT INTO contact_sends (tenant_id, subject_id, purpose, channel, sent_at) VALUES (?, ?, 'newsletter', 'email', 0)`,
		tn.ID, s.ID)
	e.rawExec(raw, `INSERT INTO downloads (id, tenant_id, subject_id, request_id, token_hash, content, created_at, expires_at)
		VALUES ('0193d6a4-0000-7000-8000-0000000000d1', ?, ?, 'r', ?, ?, 0, 1)`, tn.ID, s.ID, []byte("hash-zq"), []byte("package-zq"))

	profile := e.captureSealed(t, raw, "profile", "SELECT fields FROM subjects WHERE id = ?", s.ID)
	tripRow := e.captureSealed(t, raw, "travel booking", "SELECT fields FROM records WHERE id = ?", trip.ID)
	invRow := e.captureSealed(t, raw, "invoice", "SELECT fields FROM records WHERE id = ?", inv.ID)
	otherRow := e.captureSealed(t, raw, "other booking", "SELECT fields FROM records WHERE id = ?", otherTrip.ID)
	e.rawCheckpoint(t, raw)
	e.wantStored(t, "the profile", profile.needles())
	e.wantStored(t, "the booking", tripRow.needles())

	seq := e.lastSeq()
	e.clock.Add(time.Hour)
	rep, err := e.db.EraseSubject(ctx, s.ID, skjold.ErasedOnRequest)
	must(t, err)
	until := time.Date(2030, 2, 10, 0, 0, 0, 0, time.UTC) // five years from the invoice date
	if rep.SubjectID != s.ID || rep.Erased != 1 || rep.Complete || !rep.Time.Equal(e.clock.Now()) {
		t.Errorf("report %s, want 1 record erased, incomplete, at %v", mustJSON(t, rep), e.clock.Now())
	}
	wantKept(t, rep, skjold.Kept{Category: "invoice", Count: 1, Reason: "legal_obligation: kept P5Y from invoice_date", Until: &until})

	// Gone: the booking, the profile values and lookups, consents, sends and downloads.
	for q, want := range map[string]int{
		"SELECT COUNT(*) FROM records WHERE subject_id = ?":       1,
		"SELECT COUNT(*) FROM consents WHERE subject_id = ?":      0,
		"SELECT COUNT(*) FROM contact_sends WHERE subject_id = ?": 0,
		"SELECT COUNT(*) FROM downloads WHERE subject_id = ?":     0,
		`SELECT COUNT(*) FROM subjects WHERE id = ? AND email_idx IS NULL AND phone_idx IS NULL AND ref_idx IS NULL
			AND restricted_at IS NOT NULL AND erasure_pending_at IS NOT NULL AND relationship = 'ended'`: 1,
	} {
		if n := e.rawCount(raw, q, s.ID); n != want {
			t.Errorf("%s = %d, want %d", q, n, want)
		}
	}
	found, err := e.db.FindSubjects(ctx, skjold.SubjectFilter{Email: zebulon().Email})
	must(t, err)
	if len(found) != 0 {
		t.Errorf("the erased subject is still found by its e-mail address")
	}
	e.noPlaintext(t, append(zebulonPlaintexts, "ZINV-551237", "Quixotic galley upgrade")...)
	e.wantGone(t, "the erased profile", profile.needles())
	e.wantGone(t, "the erased booking", tripRow.needles())
	// Kept: the invoice, still sealed under the subject's key and readable with it, and the
	// other subject.
	e.wantStored(t, "the kept invoice", invRow.needles())
	e.wantStored(t, "another subject's booking", otherRow.needles())
	e.wantOpens(t, raw, tn.ID, s.ID, inv.ID, invRow, "invoice_number", `"ZINV-551237"`)
	if _, err := e.db.FindSubjectByID(ctx, other.ID); err != nil {
		t.Errorf("another subject: %v", err)
	}
	e.wantErasureEvent(t, seq, s.ID, "erased:1", "kept:1", "reason:request", "complete:false")
	// Journalled although incomplete: a restore from an earlier backup must erase the
	// profile and the booking again.
	if j := e.journalOf(t, s.ID); len(j) != 1 || j[0].Reason != skjold.ErasedOnRequest {
		t.Errorf("journal %s, want one request line for the incomplete erasure", mustJSON(t, j))
	}
}

// rawCheckpoint writes SQLite's write-ahead log into the database file, so that a later
// absence from the files is not just a page not yet copied.
func (e *env) rawCheckpoint(t *testing.T, raw *sql.DB) {
	t.Helper()
	if e.h.Engine == store.SQLite {
		_, err := raw.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		must(t, err)
	}
}

// wantOpens checks that a kept record still opens with the subject's wrapped key as stored.
func (e *env) wantOpens(t *testing.T, raw *sql.DB, tenantID, subjectID, recordID string, row sealedRow, field, want string) {
	t.Helper()
	var wrapped []byte
	must(t, raw.QueryRow(e.rebind("SELECT wrapped_key FROM subjects WHERE id = ?"), subjectID).Scan(&wrapped))
	key, err := e.tenantKey(t, tenantID).OpenSubjectKey(subjectID, wrapped)
	must(t, err)
	plain, err := key.Open(recordID, field, row.values[field])
	if err != nil || string(plain) != want {
		t.Errorf("the kept %s opens as %s, %v; want %s", row.what, plain, err, want)
	}
}

// wantErasureEvent checks the subject.erase receipt appended after seq.
func (e *env) wantErasureEvent(t *testing.T, seq int64, subjectID string, fields ...string) {
	t.Helper()
	var got []*skjold.AuditEvent
	for _, ev := range e.events(seq) {
		if ev.Action == "subject.erase" {
			got = append(got, ev)
		}
	}
	if len(got) != 1 || got[0].SubjectID != subjectID || !slices.Equal(got[0].Fields, fields) {
		t.Errorf("subject.erase events %s, want one for %s with %v", mustJSON(t, got), subjectID, fields)
	}
}

// testErasureComplete erases a subject nothing keeps: its row and wrapped key are gone from
// the rows and the files, the journal names it, and its audit events stay in a sound chain.
func testErasureComplete(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, zebulon())
	trip := e.newRecord(ctx, s.ID, "travel_booking", zebulonTrip())
	e.newRecord(ctx, s.ID, "contact", map[string]any{"address": "Zebulon Lane 7", "city": "Ouagadougou"})
	raw := e.raw()
	var wrapped []byte
	must(t, raw.QueryRow(e.rebind("SELECT wrapped_key FROM subjects WHERE id = ?"), s.ID).Scan(&wrapped))
	profile := e.captureSealed(t, raw, "profile", "SELECT fields FROM subjects WHERE id = ?", s.ID)
	tripRow := e.captureSealed(t, raw, "travel booking", "SELECT fields FROM records WHERE id = ?", trip.ID)
	e.rawCheckpoint(t, raw)
	e.wantStored(t, "the wrapped key", [][]byte{wrapped})
	e.wantStored(t, "the profile", profile.needles())
	e.wantStored(t, "the booking", tripRow.needles())

	seq := e.lastSeq()
	rep, err := e.db.EraseSubject(ctx, s.ID, skjold.ErasedOnRequest)
	must(t, err)
	if rep.Erased != 2 || !rep.Complete || len(rep.Kept) != 0 {
		t.Errorf("report %s, want 2 records erased, complete, nothing kept", mustJSON(t, rep))
	}
	if n := e.rawCount(raw, "SELECT COUNT(*) FROM subjects WHERE id = ?", s.ID); n != 0 {
		t.Error("the erased subject's row remains")
	}
	// No checkpoint here: the store empties the write-ahead log after an erasure itself.
	e.wantGone(t, "the wrapped key", [][]byte{wrapped})
	e.wantGone(t, "the erased profile", profile.needles())
	e.wantGone(t, "the erased booking", tripRow.needles())
	_, err = e.db.FindSubjectByID(ctx, s.ID)
	wantCode(t, err, skjold.ENOTFOUND)
	_, err = e.db.EraseSubject(ctx, s.ID, skjold.ErasedOnRequest)
	wantCode(t, err, skjold.ENOTFOUND)

	j := e.journalOf(t, s.ID)
	if len(j) != 1 || j[0].TenantID != tn.ID || j[0].Kind != "subject" || j[0].Reason != skjold.ErasedOnRequest ||
		!j[0].Time.Equal(e.clock.Now()) {
		t.Errorf("journal %s, want one subject line for the request", mustJSON(t, j))
	}
	e.wantErasureEvent(t, seq, s.ID, "erased:2", "kept:0", "reason:request", "complete:true")
	evs, err := e.db.FindAuditEvents(ctx, skjold.AuditFilter{SubjectID: s.ID})
	must(t, err)
	if len(evs) < 4 || evs[0].Action != "subject.create" || evs[len(evs)-1].Action != "subject.erase" {
		t.Errorf("the erased subject's audit events are %s", mustJSON(t, evs))
	}
	_, err = e.db.VerifyAuditChain(t.Context())
	must(t, err)
}

// testErasureExpiredObligation: a legal obligation whose period has ended keeps nothing, and
// one counted from a moment not known yet counts from the erasure.
func testErasureExpiredObligation(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, anna())
	e.newRecord(ctx, s.ID, "invoice", map[string]any{"invoice_number": "1", "invoice_date": "2019-06-30", "amount": 10.0})
	rep, err := e.db.EraseSubject(ctx, s.ID, skjold.ErasedOnRequest)
	must(t, err)
	if !rep.Complete || rep.Erased != 1 || len(rep.Kept) != 0 {
		t.Errorf("an invoice past its five years was kept: %s", mustJSON(t, rep))
	}

	// A category kept under a legal obligation from the end of the relationship.
	ledger := &skjold.Category{Name: "ledger", Fields: []skjold.Field{{Name: "entry", Type: skjold.TypeString}},
		Purposes: []string{"accounting"}, LegalBasis: skjold.BasisLegalObligation,
		Retention: skjold.Retention{Period: "P10Y", From: skjold.RetentionFromRelationship}}
	_, err = e.db.PutCategory(ctx, ledger)
	must(t, err)
	s = e.newSubject(ctx, anna())
	r := e.newRecord(ctx, s.ID, "ledger", map[string]any{"entry": "opening balance"})
	rep, err = e.db.EraseSubject(ctx, s.ID, skjold.ErasedOnRequest)
	must(t, err)
	until := e.clock.Now().AddDate(10, 0, 0)
	wantKept(t, rep, skjold.Kept{Category: "ledger", Count: 1, Reason: "legal_obligation: kept P10Y from the end of the relationship", Until: &until})
	raw := e.raw()
	if n := e.rawCount(raw, "SELECT COUNT(*) FROM records WHERE id = ? AND retain_from = ?", r.ID, e.clock.Now().UnixMicro()); n != 1 {
		t.Error("the kept record's retention does not count from the erasure")
	}
	// Erasing it again later changes nothing until the period ends; then it completes.
	e.clock.Add(24 * time.Hour)
	rep, err = e.db.EraseSubject(ctx, s.ID, skjold.ErasedOnRequest)
	must(t, err)
	wantKept(t, rep, skjold.Kept{Category: "ledger", Count: 1, Reason: "legal_obligation: kept P10Y from the end of the relationship", Until: &until})
	e.clock.Add(until.Sub(e.clock.Now()))
	rep, err = e.db.EraseSubject(ctx, s.ID, skjold.ErasedByRetention)
	must(t, err)
	if !rep.Complete || rep.Erased != 1 {
		t.Errorf("after the period, erasure %s, want complete", mustJSON(t, rep))
	}
	// The request's line, none for the retry that erased nothing more, the retention's line.
	if j := e.journalOf(t, s.ID); len(j) != 2 || j[0].Reason != skjold.ErasedOnRequest || j[1].Reason != skjold.ErasedByRetention {
		t.Errorf("journal %s, want a request line and a retention line", mustJSON(t, j))
	}
}

// testErasureLegalHold: a hold on the whole tenant keeps every record with its reason, even
// over a shorter legal obligation; once it is released, erasing again completes.
func testErasureLegalHold(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, zebulon())
	trip := e.newRecord(ctx, s.ID, "travel_booking", zebulonTrip())
	e.newRecord(ctx, s.ID, "travel_booking", booking())
	hold := &skjold.Hold{Reason: "Litigation 2025-17 (Oslo tingrett)"}
	must(t, e.db.PlaceHold(ctx, hold))

	rep, err := e.db.EraseSubject(ctx, s.ID, skjold.ErasedOnRequest)
	must(t, err)
	if rep.Erased != 0 || rep.Complete {
		t.Errorf("report %s, want nothing erased", mustJSON(t, rep))
	}
	wantKept(t, rep, skjold.Kept{Category: "travel_booking", Count: 2, Reason: "legal_hold: Litigation 2025-17 (Oslo tingrett)"})
	raw := e.raw()
	row := e.captureSealed(t, raw, "held booking", "SELECT fields FROM records WHERE id = ?", trip.ID)
	e.wantOpens(t, raw, tn.ID, s.ID, trip.ID, row, "destination", `"Ouagadougou"`)
	got, err := e.db.FindSubjectByID(e.as(tn, "legal_claims"), s.ID)
	if err == nil && (got.Name != "" || got.Email != "") {
		t.Errorf("the held subject's profile was kept: %+v", got)
	}
	if j := e.journalOf(t, s.ID); len(j) != 1 {
		t.Errorf("journal %s, want one line for the held erasure", mustJSON(t, j))
	}

	must(t, e.db.ReleaseHold(ctx, hold.ID))
	rep, err = e.db.EraseSubject(ctx, s.ID, skjold.ErasedOnRequest)
	must(t, err)
	if rep.Erased != 2 || !rep.Complete || len(rep.Kept) != 0 {
		t.Errorf("after release, report %s, want 2 erased, complete", mustJSON(t, rep))
	}
	if n := e.rawCount(raw, "SELECT COUNT(*) FROM subjects WHERE id = ?", s.ID); n != 0 {
		t.Error("the subject's row remains after the complete erasure")
	}
	if j := e.journalOf(t, s.ID); len(j) != 2 {
		t.Errorf("journal %s, want the held erasure's line and the complete one's", mustJSON(t, j))
	}
	_, err = e.db.VerifyAuditChain(t.Context())
	must(t, err)
}

// testErasureKeptStaysRestricted: what a hold keeps of an erased subject stays restricted;
// the restriction cannot be lifted to read it for another purpose, nor the relationship
// revived to move the retention anchors of what is kept.
func testErasureKeptStaysRestricted(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, zebulon())
	trip := e.newRecord(ctx, s.ID, "travel_booking", zebulonTrip())
	must(t, e.db.PlaceHold(ctx, &skjold.Hold{SubjectID: s.ID, Reason: "dispute"}))
	rep, err := e.db.EraseSubject(ctx, s.ID, skjold.ErasedOnRequest)
	must(t, err)
	if rep.Complete {
		t.Fatalf("report %s, want the held booking kept", mustJSON(t, rep))
	}
	wantCode(t, e.db.SetRestriction(ctx, s.ID, false), skjold.ECONFLICT)
	wantCode(t, e.db.SetRelationship(ctx, s.ID, skjold.RelationshipActive), skjold.ECONFLICT)
	_, err = e.db.FindRecordByID(e.as(tn, "contract"), trip.ID)
	wantCode(t, err, skjold.EFORBIDDEN)
	wantCode(t, e.db.SetRestriction(ctx, "0193d6a4-0000-7000-8000-000000000000", false), skjold.ENOTFOUND)
}

// testErasureHoldEnds: a hold on one subject and category with an end keeps only what it
// covers, until that end; other subjects and categories are not held.
func testErasureHoldEnds(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, zebulon())
	e.newRecord(ctx, s.ID, "travel_booking", zebulonTrip())
	e.newRecord(ctx, s.ID, "contact", map[string]any{"city": "Ouagadougou"})
	free := e.newSubject(ctx, anna())
	e.newRecord(ctx, free.ID, "travel_booking", booking())
	until := e.clock.Now().Add(30 * 24 * time.Hour)
	must(t, e.db.PlaceHold(ctx, &skjold.Hold{SubjectID: s.ID, Category: "travel_booking", Reason: "dispute", Until: &until}))
	// A released hold, and one already ended, hold nothing.
	released := &skjold.Hold{Reason: "released"}
	must(t, e.db.PlaceHold(ctx, released))
	must(t, e.db.ReleaseHold(ctx, released.ID))
	soon := e.clock.Now().Add(time.Minute)
	must(t, e.db.PlaceHold(ctx, &skjold.Hold{Reason: "ended", Until: &soon}))
	e.clock.Add(time.Minute)

	rep, err := e.db.EraseSubject(ctx, free.ID, skjold.ErasedOnRequest)
	must(t, err)
	if !rep.Complete {
		t.Errorf("a subject no hold covers was kept: %s", mustJSON(t, rep))
	}
	rep, err = e.db.EraseSubject(ctx, s.ID, skjold.ErasedOnRequest)
	must(t, err)
	if rep.Erased != 1 || rep.Complete {
		t.Errorf("report %s, want the contact erased, the booking kept", mustJSON(t, rep))
	}
	wantKept(t, rep, skjold.Kept{Category: "travel_booking", Count: 1, Reason: "legal_hold: dispute", Until: &until})
	e.clock.Add(until.Sub(e.clock.Now()))
	rep, err = e.db.EraseSubject(ctx, s.ID, skjold.ErasedByRetention)
	must(t, err)
	if rep.Erased != 1 || !rep.Complete {
		t.Errorf("after the hold's end, report %s, want complete", mustJSON(t, rep))
	}
}

// testErasureGuardian: the guardian of a minor is not erased, and nothing changes.
func testErasureGuardian(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	parent := e.newSubject(ctx, &skjold.Subject{Name: "Parent", Email: "parent@example.com", BirthDate: adultBorn})
	e.newRecord(ctx, parent.ID, "travel_booking", booking())
	e.newSubject(ctx, &skjold.Subject{Name: "Child", BirthDate: minorBorn, GuardianID: parent.ID})
	seq := e.lastSeq()
	_, err := e.db.EraseSubject(ctx, parent.ID, skjold.ErasedOnRequest)
	wantCode(t, err, skjold.ECONFLICT)
	if evs := e.events(seq); len(evs) != 0 {
		t.Errorf("a refused erasure left events %s", mustJSON(t, evs))
	}
	raw := e.raw()
	if n := e.rawCount(raw, `SELECT COUNT(*) FROM records r JOIN subjects s ON s.id = r.subject_id
		WHERE s.id = ? AND s.email_idx IS NOT NULL AND s.erasure_pending_at IS NULL`, parent.ID); n != 1 {
		t.Error("a refused erasure changed the guardian or its records")
	}
	if j := e.journalOf(t, parent.ID); len(j) != 0 {
		t.Errorf("a refused erasure was journalled")
	}
}

// testErasureRefused: callers and inputs EraseSubject refuses.
func testErasureRefused(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("Tenant A"), e.newTenant("Tenant B")
	s := e.newSubject(e.as(a, ""), anna())
	for _, tc := range []struct {
		name   string
		tn     *tenant
		id     string
		reason string
		want   string
	}{
		{"other tenant", b, s.ID, skjold.ErasedOnRequest, skjold.ENOTFOUND},
		{"bad id", a, "x", skjold.ErasedOnRequest, skjold.ENOTFOUND},
		{"no reason", a, s.ID, "", skjold.EINVALID},
		{"bad reason", a, s.ID, "Because!", skjold.EINVALID},
	} {
		_, err := e.db.EraseSubject(e.as(tc.tn, ""), tc.id, tc.reason)
		if skjold.ErrorCode(err) != tc.want {
			t.Errorf("%s: error %v, want %s", tc.name, err, tc.want)
		}
	}
	_, err := e.db.EraseSubject(e.op, s.ID, skjold.ErasedOnRequest)
	wantCode(t, err, skjold.EFORBIDDEN)
	_, err = e.db.EraseSubject(t.Context(), s.ID, skjold.ErasedOnRequest)
	wantCode(t, err, skjold.EUNAUTHORIZED)
	if _, err := e.db.FindSubjectByID(e.as(a, ""), s.ID); err != nil {
		t.Errorf("refused erasures erased the subject: %v", err)
	}
}

// testHolds places, lists and releases holds, with their audit events.
func testHolds(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("Tenant A"), e.newTenant("Tenant B")
	ctx := e.as(a, "")
	s := e.newSubject(ctx, anna())
	until := e.clock.Now().Add(90 * 24 * time.Hour)
	first := &skjold.Hold{SubjectID: s.ID, Category: "invoice", Reason: "Tax audit 2025", Until: &until}
	must(t, e.db.PlaceHold(ctx, first))
	e.clock.Add(time.Minute)
	second := &skjold.Hold{Reason: "Litigation hold"}
	must(t, e.db.PlaceHold(ctx, second))
	must(t, e.db.PlaceHold(e.as(b, ""), &skjold.Hold{Reason: "B's own"}))
	if !skjold.ValidID(first.ID) || first.CreatedBy != "token:x" || !first.CreatedAt.Equal(epoch) {
		t.Errorf("placed hold %+v", first)
	}

	holds, err := e.db.FindHolds(ctx)
	must(t, err)
	if len(holds) != 2 || holds[0].ID != second.ID || holds[1].ID != first.ID {
		t.Fatalf("FindHolds = %s, want the two of tenant A, newest first", mustJSON(t, holds))
	}
	got := holds[1]
	if got.SubjectID != s.ID || got.Category != "invoice" || got.Reason != "Tax audit 2025" || got.Until == nil ||
		!got.Until.Equal(until) || got.ReleasedAt != nil || holds[0].SubjectID != "" || holds[0].Until != nil {
		t.Errorf("FindHolds returned %s", mustJSON(t, holds))
	}

	seq := e.lastSeq()
	e.clock.Add(time.Minute)
	must(t, e.db.ReleaseHold(ctx, second.ID))
	must(t, e.db.ReleaseHold(ctx, second.ID)) // again: nothing changes
	wantCode(t, e.db.ReleaseHold(e.as(b, ""), first.ID), skjold.ENOTFOUND)
	wantCode(t, e.db.ReleaseHold(ctx, "x"), skjold.ENOTFOUND)
	holds, err = e.db.FindHolds(ctx)
	must(t, err)
	if holds[0].ReleasedAt == nil || !holds[0].ReleasedAt.Equal(e.clock.Now()) || holds[1].ReleasedAt != nil {
		t.Errorf("after release, FindHolds = %s", mustJSON(t, holds))
	}
	evs := e.events(seq)
	if len(evs) != 1 || evs[0].Action != "hold.release" || !slices.Equal(evs[0].Fields, []string{"hold:" + second.ID}) {
		t.Errorf("release left events %s", mustJSON(t, evs))
	}
	var placed int
	for _, ev := range e.events(0) {
		if ev.Action == "hold.place" && ev.TenantID == a.ID {
			placed++
			if strings.Contains(strings.Join(ev.Fields, " "), "audit") {
				t.Errorf("hold.place event names the reason: %v", ev.Fields)
			}
		}
	}
	if placed != 2 {
		t.Errorf("%d hold.place events of tenant A, want 2", placed)
	}
	_, err = e.db.FindHolds(e.op)
	wantCode(t, err, skjold.EFORBIDDEN)
}

// testHoldsRefused: PlaceHold refuses bad holds with EINVALID naming the field, and stores
// nothing.
func testHoldsRefused(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("Tenant A"), e.newTenant("Tenant B")
	ctx := e.as(a, "")
	foreign := e.newSubject(e.as(b, ""), anna())
	past, now := e.clock.Now().Add(-time.Hour), e.clock.Now()
	for _, tc := range []struct {
		name  string
		hold  skjold.Hold
		field string
	}{
		{"no reason", skjold.Hold{}, "reason"},
		{"long reason", skjold.Hold{Reason: strings.Repeat("x", 501)}, "reason"},
		{"control character", skjold.Hold{Reason: "a\x00b"}, "reason"},
		{"ended", skjold.Hold{Reason: "r", Until: &past}, "until"},
		{"ends now", skjold.Hold{Reason: "r", Until: &now}, "until"},
		{"bad subject id", skjold.Hold{Reason: "r", SubjectID: "x"}, "subject_id"},
		{"unknown subject", skjold.Hold{Reason: "r", SubjectID: "0193d6a4-0000-7000-8000-000000000000"}, "subject_id"},
		{"other tenant's subject", skjold.Hold{Reason: "r", SubjectID: foreign.ID}, "subject_id"},
		{"bad category", skjold.Hold{Reason: "r", Category: "In voice"}, "category"},
		{"unknown category", skjold.Hold{Reason: "r", Category: "loyalty"}, "category"},
		{"profile", skjold.Hold{Reason: "r", Category: skjold.SubjectCategory}, "category"},
	} {
		err := e.db.PlaceHold(ctx, &tc.hold)
		var se *skjold.Error
		if !errors.As(err, &se) || se.Code != skjold.EINVALID || se.Field != tc.field {
			t.Errorf("%s: error %v, want EINVALID on %s", tc.name, err, tc.field)
		}
	}
	must(t, e.db.PlaceHold(ctx, &skjold.Hold{Reason: strings.Repeat("é", 500)}))
	holds, err := e.db.FindHolds(ctx)
	must(t, err)
	if len(holds) != 1 {
		t.Errorf("refused holds were stored: %s", mustJSON(t, holds))
	}
	wantCode(t, e.db.PlaceHold(e.op, &skjold.Hold{Reason: "r"}), skjold.EFORBIDDEN)
}

// testErasureReaderHeldOpen erases a subject while a reader holds an old snapshot, which keeps
// SQLite from emptying its write-ahead log: the report says the purge is pending, not done,
// and once the reader ends, the background retry removes every byte of the wrapped key and the
// sealed values from the database's files within the bound, without another erasure [D4].
func testErasureReaderHeldOpen(t *testing.T, h Harness) {
	if h.Engine != store.SQLite {
		t.Skip("PostgreSQL has no write-ahead log in the data directory that Skjold empties; see the README")
	}
	e := newEnv(t, h)
	// A second handle alerts after 300 ms instead of a minute, and shows what it appends.
	alerts := make(chan *skjold.AuditEvent, 16)
	opts := e.options(e.keys)
	opts.PurgeAlertAfter = 300 * time.Millisecond
	opts.OnAudit = func(ev *skjold.AuditEvent) {
		if ev.Action == "erasure.purge_blocked" {
			alerts <- ev
		}
	}
	e.db = e.h.Reopen(t, e.db, opts)
	ctx := e.as(e.newTenant("Tenant A"), "")
	s := e.newSubject(ctx, zebulon())
	trip := e.newRecord(ctx, s.ID, "travel_booking", zebulonTrip())
	raw := e.raw()
	var wrapped []byte
	must(t, raw.QueryRow("SELECT wrapped_key FROM subjects WHERE id = ?", s.ID).Scan(&wrapped))
	profile := e.captureSealed(t, raw, "profile", "SELECT fields FROM subjects WHERE id = ?", s.ID)
	tripRow := e.captureSealed(t, raw, "travel booking", "SELECT fields FROM records WHERE id = ?", trip.ID)
	needles := append(append([][]byte{wrapped}, profile.needles()...), tripRow.needles()...)
	e.wantStored(t, "the subject", needles)

	reader, err := raw.BeginTx(t.Context(), &sql.TxOptions{ReadOnly: true})
	must(t, err)
	var n int
	must(t, reader.QueryRow("SELECT COUNT(*) FROM subjects").Scan(&n)) // takes the snapshot
	rep, err := e.db.EraseSubject(ctx, s.ID, skjold.ErasedOnRequest)
	must(t, err)
	if !rep.Complete || !rep.PurgePending {
		t.Errorf("report %s, want complete with the purge pending while a reader blocks it", mustJSON(t, rep))
	}
	if e.db.PurgePending() == 0 {
		t.Error("PurgePending is 0 while the erased data waits in the log")
	}
	// Still blocked after the bound: the purger raises erasure.purge_blocked, once.
	select {
	case ev := <-alerts:
		if ev.TenantID != "" || ev.SubjectID != "" {
			t.Errorf("erasure.purge_blocked names a tenant or subject: %s", mustJSON(t, ev))
		}
	case <-time.After(30 * time.Second):
		t.Error("no erasure.purge_blocked while a reader blocked the purge past the bound")
	}
	must(t, reader.Rollback())

	deadline := time.Now().Add(store.PurgeAlertAfter)
	for {
		left := e.inFiles(t, needles)
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			e.wantGone(t, "the erased subject", needles)
			t.Fatalf("%d parts of the erased subject remain on disk %s after the reader ended", left, store.PurgeAlertAfter)
		}
		time.Sleep(20 * time.Millisecond) // polling the files, with the deadline above
	}
	e.wantGone(t, "the erased subject", needles)
	if d := e.db.PurgePending(); d != 0 {
		t.Errorf("PurgePending = %s after the log was emptied", d)
	}
	if len(alerts) != 0 {
		t.Errorf("%d more erasure.purge_blocked events, want one per blocked purge", len(alerts))
	}
}

// inFiles returns how many of needles are in the database's files (SQLite), reading each
// file once: cheap enough to poll.
func (e *env) inFiles(t *testing.T, needles [][]byte) int {
	t.Helper()
	var contents [][]byte
	for _, f := range e.h.RawFiles(e.db) {
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		must(t, err)
		contents = append(contents, b)
	}
	n := 0
	for _, nd := range needles {
		for _, b := range contents {
			if bytes.Contains(b, nd) {
				n++
				break
			}
		}
	}
	return n
}
