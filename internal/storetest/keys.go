package storetest

import (
	"bytes"
	"database/sql"
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
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// zebulon is a subject whose values appear nowhere else, so that finding one of them in the
// database's files means it was stored in the clear.
func zebulon() *skjold.Subject {
	return &skjold.Subject{Ref: "ZQM-778899", Email: "Zebulon.Q@Example.invalid", Phone: "+47 913 57 246",
		Name: "Zebulon Quixotic-Marchetti", BirthDate: "1983-11-07"}
}

// zebulonTrip is a travel booking whose values appear nowhere else.
func zebulonTrip() map[string]any {
	return map[string]any{"booking_reference": "QXZ7Y8W", "kind": "flight", "departure_date": "2025-07-14",
		"destination": "Ouagadougou", "notes": "Zebulon prefers aisle seats near the galley"}
}

// zebulonPlaintexts are the personal values of zebulon and zebulonTrip, as stored.
var zebulonPlaintexts = []string{"ZQM-778899", "Zebulon.Q@Example.invalid", "+47 913 57 246", "4791357246",
	"Zebulon Quixotic-Marchetti", "Quixotic", "1983-11-07", "QXZ7Y8W", "Ouagadougou", "Zebulon prefers aisle seats near the galley",
	"aisle seats"}

// TestKeys checks the store's use of the key hierarchy: nothing personal is stored in the
// clear, erasing a subject or destroying a tenant key makes its data unreadable, and a master
// key rotation keeps every tenant's data readable after a restart.
func TestKeys(t *testing.T, h Harness) {
	t.Run("NoPlaintextAtRest", func(t *testing.T) { testNoPlaintextAtRest(t, h) })
	t.Run("CryptoShredding", func(t *testing.T) { testCryptoShredding(t, h) })
	t.Run("TenantKeyDestruction", func(t *testing.T) { testTenantKeyDestruction(t, h) })
	t.Run("Rotation", func(t *testing.T) { testRotation(t, h) })
	t.Run("WrongMasterKey", func(t *testing.T) { testWrongMasterKey(t, h) })
}

func testNoPlaintextAtRest(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "credit_check")
	s := e.newSubject(ctx, zebulon())
	r := e.newRecord(ctx, s.ID, "travel_booking", zebulonTrip())
	e.newRecord(ctx, s.ID, "identity", map[string]any{"last_name": "Quixotic-Marchetti", "birth_date": "1983-11-07"})
	_, err := e.db.UpdateRecord(ctx, r.ID, map[string]any{"carrier": "Zebulon Air"})
	must(t, err)
	got, err := e.db.FindSubjectByID(ctx, s.ID)
	must(t, err)
	if got.Name != zebulon().Name || got.BirthDate != zebulon().BirthDate {
		t.Fatalf("read back %+v", got)
	}
	// No checkpoint first: the write-ahead log must not hold plaintext either.
	e.noPlaintext(t, append(zebulonPlaintexts, "Zebulon Air")...)
}

// noPlaintext fails the test if any row of any table, or (for SQLite) any byte of the
// database's files, holds one of values or its lower-cased form.
func (e *env) noPlaintext(t *testing.T, values ...string) {
	t.Helper()
	var needles [][]byte
	for _, v := range values {
		needles = append(needles, []byte(v), []byte(strings.ToLower(v)))
	}
	e.scanRows(t, func(table, column string, v []byte) {
		for _, n := range needles {
			if bytes.Contains(v, n) {
				t.Errorf("table %s, column %s holds the plaintext %q", table, column, n)
			}
		}
	})
	files := e.h.RawFiles(e.db)
	if e.h.Engine == store.SQLite && len(files) == 0 {
		t.Fatal("the harness names no files for a SQLite database")
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		must(t, err)
		for _, n := range needles {
			if bytes.Contains(data, n) {
				t.Errorf("file %s holds the plaintext %q", filepath.Base(path), n)
			}
		}
	}
}

// scanRows calls fn with every text or binary value of every table in the database.
func (e *env) scanRows(t *testing.T, fn func(table, column string, v []byte)) {
	t.Helper()
	raw := e.raw()
	q := "SELECT name FROM sqlite_master WHERE type = 'table'"
	if e.h.Engine == store.Postgres {
		q = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
	}
	var tables []string
	rows, err := raw.Query(q)
	must(t, err)
	for rows.Next() {
		var name string
		must(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	must(t, rows.Err())
	rows.Close()
	if !slices.Contains(tables, "subjects") {
		t.Fatalf("tables %v do not include subjects", tables)
	}
	for _, table := range tables {
		scanTable(t, raw, table, fn)
	}
}

func scanTable(t *testing.T, raw *sql.DB, table string, fn func(table, column string, v []byte)) {
	t.Helper()
	rows, err := raw.Query("SELECT * FROM " + table)
	must(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	must(t, err)
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		must(t, rows.Scan(ptrs...))
		for i, v := range vals {
			switch v := v.(type) {
			case []byte:
				fn(table, cols[i], v)
			case string:
				fn(table, cols[i], []byte(v))
			}
		}
	}
	must(t, rows.Err())
}

// tenantKey unwraps a tenant's key from its raw row, as anyone holding the master key could.
func (e *env) tenantKey(t *testing.T, tenantID string) skjold.TenantKey {
	t.Helper()
	var keyID string
	var wrapped []byte
	raw := e.raw()
	err := raw.QueryRow(e.rebind("SELECT key_id, wrapped_key FROM tenants WHERE id = ?"), tenantID).Scan(&keyID, &wrapped)
	must(t, err)
	tk, err := e.keys.OpenTenantKey(tenantID, keyID, wrapped)
	must(t, err)
	return tk
}

func testCryptoShredding(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, zebulon())
	r := e.newRecord(ctx, s.ID, "travel_booking", zebulonTrip())
	raw := e.raw()
	var subjectFields, wrapped, recordFields []byte
	must(t, raw.QueryRow(e.rebind("SELECT fields, wrapped_key FROM subjects WHERE id = ?"), s.ID).Scan(&subjectFields, &wrapped))
	must(t, raw.QueryRow(e.rebind("SELECT fields FROM records WHERE id = ?"), r.ID).Scan(&recordFields))
	var sealed map[string][]byte
	must(t, json.Unmarshal(subjectFields, &sealed))
	var sealedRecord map[string][]byte
	must(t, json.Unmarshal(recordFields, &sealedRecord))

	// Before erasure, the captured row opens with its own wrapped key: the checks below
	// would be worthless otherwise.
	tk := e.tenantKey(t, tn.ID)
	key, err := tk.OpenSubjectKey(s.ID, wrapped)
	must(t, err)
	plain, err := key.Open("", skjold.FieldName, sealed[skjold.FieldName])
	must(t, err)
	if string(plain) != `"Zebulon Quixotic-Marchetti"` {
		t.Fatalf("the captured name opens as %s", plain)
	}

	must(t, e.db.DeleteSubject(ctx, s.ID))
	if n := e.rawCount(raw, "SELECT COUNT(*) FROM subjects WHERE id = ?", s.ID); n != 0 {
		t.Fatalf("the erased subject's row remains")
	}
	if n := e.rawCount(raw, "SELECT COUNT(*) FROM records WHERE subject_id = ?", s.ID); n != 0 {
		t.Fatalf("the erased subject's records remain")
	}
	e.scanRows(t, func(table, column string, v []byte) {
		if bytes.Contains(v, wrapped) {
			t.Errorf("the erased subject's wrapped key remains in %s.%s", table, column)
		}
	})
	// Nor on disk: SQLite overwrites freed pages (secure_delete) and empties its write-ahead
	// log after an erasure, so no older page version keeps the key or the sealed values.
	for _, f := range e.h.RawFiles(e.db) {
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		must(t, err)
		if bytes.Contains(b, wrapped) || bytes.Contains(b, subjectFields) || bytes.Contains(b, recordFields) {
			t.Errorf("the erased subject's wrapped key or sealed values remain on disk in %s", filepath.Base(f))
		}
	}

	// A new key for the same subject id does not open the old values.
	fresh, freshWrapped, err := tk.NewSubjectKey(s.ID)
	must(t, err)
	for name, v := range sealed {
		if _, err := fresh.Open("", name, v); err == nil {
			t.Errorf("the old sealed %s opens under a new subject key", name)
		}
	}
	// Nor does putting the old blobs back under a new key make them readable through the store.
	e.rawExec(raw, `INSERT INTO subjects (id, tenant_id, wrapped_key, fields, created_at, updated_at)
		VALUES (?, ?, ?, ?, 0, 0)`, s.ID, tn.ID, freshWrapped, subjectFields)
	e.rawExec(raw, `INSERT INTO records (id, tenant_id, subject_id, category, fields, created_at, updated_at)
		VALUES (?, ?, ?, 'travel_booking', ?, 0, 0)`, r.ID, tn.ID, s.ID, recordFields)
	if got, err := e.db.FindSubjectByID(ctx, s.ID); err == nil {
		t.Errorf("the re-inserted subject opens: %+v", got)
	}
	if got, err := e.db.FindRecordByID(ctx, r.ID); err == nil {
		t.Errorf("the re-inserted record opens: %+v", got)
	}
	for name, v := range sealedRecord {
		if _, err := fresh.Open(r.ID, name, v); err == nil {
			t.Errorf("the old sealed record field %s opens under a new subject key", name)
		}
	}
}

func testTenantKeyDestruction(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.newTenant("Tenant A"), e.newTenant("Tenant B")
	ctxA, ctxB := e.as(a, "credit_check"), e.as(b, "credit_check")
	sa := e.newSubject(ctxA, zebulon())
	ra := e.newRecord(ctxA, sa.ID, "travel_booking", zebulonTrip())
	sb := e.newSubject(ctxB, anna())
	extra := &skjold.Token{TenantID: a.ID, Name: "extra", Scopes: []string{skjold.ScopeRead}}
	must(t, e.db.CreateToken(ctxA, extra))

	must(t, e.db.DestroyTenantKey(e.op, a.ID))
	for _, secret := range []string{a.token.Secret, extra.Secret} {
		_, err := e.db.Authenticate(t.Context(), secret)
		wantCode(t, err, skjold.EUNAUTHORIZED)
	}
	refused := func(db *store.DB) {
		t.Helper()
		_, err := db.FindSubjectByID(ctxA, sa.ID)
		wantCode(t, err, skjold.EFORBIDDEN)
		_, err = db.FindSubjects(ctxA, skjold.SubjectFilter{})
		wantCode(t, err, skjold.EFORBIDDEN)
		_, err = db.FindRecordByID(ctxA, ra.ID)
		wantCode(t, err, skjold.EFORBIDDEN)
		_, err = db.FindRecords(ctxA, skjold.RecordFilter{SubjectID: sa.ID})
		wantCode(t, err, skjold.EFORBIDDEN)
		_, err = db.UpdateSubject(ctxA, sa.ID, skjold.SubjectUpdate{Name: ptr("x")})
		wantCode(t, err, skjold.EFORBIDDEN)
		_, err = db.UpdateRecord(ctxA, ra.ID, map[string]any{"notes": "x"})
		wantCode(t, err, skjold.EFORBIDDEN)
		wantCode(t, db.CreateSubject(ctxA, &skjold.Subject{Name: "New"}), skjold.EFORBIDDEN)
		wantCode(t, db.CreateRecord(ctxA, &skjold.Record{SubjectID: sa.ID, Category: "travel_booking", Data: booking()}), skjold.EFORBIDDEN)
	}
	refused(e.db)
	refused(e.h.Reopen(t, e.db, e.options(e.keys))) // a process that never saw the key cached

	var keyID sql.NullString
	var wrapped []byte
	must(t, e.raw().QueryRow(e.rebind("SELECT key_id, wrapped_key FROM tenants WHERE id = ?"), a.ID).Scan(&keyID, &wrapped))
	if keyID.Valid || wrapped != nil {
		t.Errorf("the destroyed tenant key is still stored: %q %x", keyID.String, wrapped)
	}
	wantCode(t, e.db.DestroyTenantKey(e.op, a.ID), skjold.ENOTFOUND)
	wantCode(t, e.db.DestroyTenantKey(e.op, "0193d6a4-0000-7000-8000-000000000000"), skjold.ENOTFOUND)
	wantCode(t, e.db.CreateToken(e.local, &skjold.Token{TenantID: a.ID, Name: "again", Scopes: skjold.AllScopes}), skjold.ENOTFOUND)

	// The other tenant is unharmed.
	got, err := e.db.FindSubjectByID(ctxB, sb.ID)
	must(t, err)
	if got.Name != "Anna Berg" {
		t.Errorf("tenant B's subject reads %+v", got)
	}
	if _, err := e.db.Authenticate(t.Context(), b.token.Secret); err != nil {
		t.Errorf("tenant B's token: %v", err)
	}
	found := false
	for _, ev := range e.events(0) {
		found = found || (ev.Action == "tenant.key_destroy" && ev.TenantID == a.ID && ev.Actor == "test")
	}
	if !found {
		t.Error("no tenant.key_destroy event")
	}
}

func testRotation(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b, c := e.newTenant("Tenant A"), e.newTenant("Tenant B"), e.newTenant("Tenant C")
	ctxA, ctxB := e.as(a, "credit_check"), e.as(b, "credit_check")
	sa := e.newSubject(ctxA, zebulon())
	ra := e.newRecord(ctxA, sa.ID, "travel_booking", zebulonTrip())
	sb := e.newSubject(ctxB, anna())
	must(t, e.db.DestroyTenantKey(e.op, c.ID))
	old := e.ring.PrimaryKeyID()

	_, err := e.db.RewrapTenantKeys(e.as(a, ""))
	wantCode(t, err, skjold.EFORBIDDEN)
	next, err := e.ring.AddPrimary()
	must(t, err)
	n, err := e.db.RewrapTenantKeys(e.op)
	must(t, err)
	if n != 2 {
		t.Errorf("RewrapTenantKeys = %d, want 2 (tenant C's key is destroyed)", n)
	}
	inUse, err := e.db.MasterKeysInUse(t.Context())
	must(t, err)
	if !slices.Equal(inUse, []string{next}) {
		t.Errorf("MasterKeysInUse = %v, want only the new key %s (old %s)", inUse, next, old)
	}
	_, err = e.ring.RetireOthers(time.Now())
	must(t, err)
	must(t, e.ring.Remove([]string{old})) // retired keys stay until pruned; prove the new one suffices
	if n, err := e.db.RewrapTenantKeys(e.op); err != nil || n != 0 {
		t.Errorf("second RewrapTenantKeys = %d, %v; want 0", n, err)
	}

	// Restart: a new process with the rotated key file only.
	ring, err := keys.OpenKeyring(e.keyPath)
	must(t, err)
	if ids := ring.KeyIDs(); !slices.Equal(ids, []string{next}) {
		t.Fatalf("the key file holds %v, want only %s", ids, next)
	}
	db := e.h.Reopen(t, e.db, e.options(keys.NewService(ring)))
	gotA, err := db.FindSubjectByID(ctxA, sa.ID)
	must(t, err)
	if mustJSON(t, gotA.Values()) != mustJSON(t, zebulon().Values()) {
		t.Errorf("after rotation and restart, subject reads %+v", gotA)
	}
	gotR, err := db.FindRecordByID(ctxA, ra.ID)
	must(t, err)
	if mustJSON(t, gotR.Data) != mustJSON(t, zebulonTrip()) {
		t.Errorf("after rotation and restart, record reads %v", gotR.Data)
	}
	gotB, err := db.FindSubjectByID(ctxB, sb.ID)
	must(t, err)
	if gotB.Email != anna().Email {
		t.Errorf("after rotation and restart, tenant B's subject reads %+v", gotB)
	}
	found, err := db.FindSubjects(ctxA, skjold.SubjectFilter{Email: "zebulon.q@example.invalid"})
	must(t, err)
	if len(found) != 1 {
		t.Errorf("blind-index lookups after rotation found %d subjects", len(found))
	}
	if _, err := db.Authenticate(t.Context(), a.token.Secret); err != nil {
		t.Errorf("tenant A's token after rotation: %v", err)
	}
	d := e.newTenant("Tenant D")
	e.newSubject(e.as(d, ""), anna())
	inUse, err = db.MasterKeysInUse(t.Context())
	must(t, err)
	if !slices.Equal(inUse, []string{next}) {
		t.Errorf("after restart, MasterKeysInUse = %v, want %s", inUse, next)
	}
	if _, err := db.VerifyAuditChain(t.Context()); err != nil {
		t.Error(err)
	}
}

func testWrongMasterKey(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	s := e.newSubject(ctx, zebulon())
	// A process started with another key file lacks the master key the database records, and
	// so refuses to open the database at all, naming the key, rather than serve errors [F3].
	ring, err := keys.CreateKeyring(filepath.Join(t.TempDir(), "other.key"))
	must(t, err)
	db, err := store.Open(t.Context(), e.h.DSN(e.db), e.options(keys.NewService(ring)))
	if err == nil {
		defer db.Close()
		got, err := db.FindSubjectByID(ctx, s.ID)
		t.Fatalf("opened with the wrong master key; read %+v, %v", got, err)
	}
	if msg := err.Error(); !strings.Contains(msg, "master key file lacks master key(s) "+e.ring.PrimaryKeyID()) || strings.Contains(msg, "Zebulon") {
		t.Errorf("the error is %q, want one naming the master key and no personal value", msg)
	}
	// The right key passes the health check and the restore's key check.
	if err := e.db.Health(t.Context()); err != nil {
		t.Errorf("Health under the right master key: %v", err)
	}
	if n, err := e.db.CheckTenantKeys(t.Context()); err != nil || n != 1 {
		t.Errorf("CheckTenantKeys under the right master key = %d, %v; want 1", n, err)
	}
	// A tenant key that the keyring cannot open (wrapped under a master key the file no longer
	// holds, here a damaged wrap) leaves the audit key opening, so the process starts: it is
	// then not healthy (/healthz answers with Health), and the restore's check refuses it.
	var tenantID string
	var wrapped []byte
	raw := e.raw()
	must(t, raw.QueryRow("SELECT id, wrapped_key FROM tenants WHERE wrapped_key IS NOT NULL").Scan(&tenantID, &wrapped))
	wrapped[len(wrapped)-1] ^= 0xff
	e.rawExec(raw, "UPDATE tenants SET wrapped_key = ? WHERE id = ?", wrapped, tenantID)
	other, err := store.Open(t.Context(), e.h.DSN(e.db), e.options(keys.NewService(e.ring)))
	must(t, err)
	defer other.Close()
	if err := other.Health(t.Context()); err == nil {
		t.Error("Health is ok while a tenant key does not open")
	}
	if n, err := other.CheckTenantKeys(t.Context()); err == nil || n != 0 {
		t.Errorf("CheckTenantKeys with a tenant key that does not open = %d, %v; want 0 and an error", n, err)
	}
}
