package storetest

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// plainRehash recomputes every event's hash as the unkeyed chain did (SHA-256 over the
// previous hash and the length-prefixed fields) and fixes the chain head to match: what
// anyone who can write the database, but holds no master key, can do.
func (e *env) plainRehash(t *testing.T) {
	t.Helper()
	raw := e.raw()
	rows, err := raw.Query(`SELECT seq, time, actor, tenant_id, subject_id, record_id, action, fields, purpose, source
		FROM audit_events ORDER BY seq`)
	must(t, err)
	type event struct {
		seq, time int64
		parts     [8]string
	}
	var events []event
	for rows.Next() {
		var ev event
		p := &ev.parts
		must(t, rows.Scan(&ev.seq, &ev.time, &p[0], &p[1], &p[2], &p[3], &p[4], &p[5], &p[6], &p[7]))
		events = append(events, ev)
	}
	must(t, rows.Err())
	rows.Close()
	prev := make([]byte, sha256.Size)
	var n [8]byte
	for _, ev := range events {
		h := sha256.New()
		put := func(s string) {
			binary.BigEndian.PutUint64(n[:], uint64(len(s)))
			h.Write(n[:])
			h.Write([]byte(s))
		}
		put(string(prev))
		binary.BigEndian.PutUint64(n[:], uint64(ev.seq))
		h.Write(n[:])
		binary.BigEndian.PutUint64(n[:], uint64(ev.time))
		h.Write(n[:])
		for _, s := range ev.parts {
			put(s)
		}
		sum := h.Sum(nil)
		e.rawExec(raw, "UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?", prev, sum, ev.seq)
		prev = sum
	}
	e.rawExec(raw, "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", int64(len(events)), prev)
}

// testAuditPlainRehash: recomputing every hash with plain SHA-256 no longer passes [F3].
func testAuditPlainRehash(t *testing.T, h Harness) {
	e := auditFixture(t, h)
	e.dropAuditTriggers()
	e.plainRehash(t)
	_, err := e.db.VerifyAuditChain(t.Context())
	if ce := chainError(t, err); ce.Seq != 1 {
		t.Errorf("ChainError names event %d, want 1, the first keyed event: %v", ce.Seq, ce)
	}
}

// testAuditUnkeyedChain: a database whose chain predates the keyed hashes (schema 10 and
// before) keeps verifying after migration 11; the events appended after it are keyed.
func testAuditUnkeyedChain(t *testing.T, h Harness) {
	e := auditFixture(t, h)
	e.dropAuditTriggers()
	e.plainRehash(t) // events 1-8 as an older Skjold wrote them
	raw := e.raw()
	// Back to schema 10: undo migration 11 and every later one.
	e.rawExec(raw, "DROP TABLE audit_key")
	e.rawExec(raw, "ALTER TABLE approvals DROP COLUMN override_holds") // 12
	e.rawExec(raw, "ALTER TABLE users DROP COLUMN language")           // 13
	e.rawExec(raw, "DROP TABLE email_confirmations")                   // 14
	e.rawExec(raw, "DROP INDEX users_pending_email")
	for _, col := range []string{"pending_email", "otp_hash", "confirm_hash", "confirm_expires", "confirm_failures"} {
		e.rawExec(raw, "ALTER TABLE users DROP COLUMN "+col)
	}
	for _, index := range []string{"audit_tenant_subject", "audit_tenant_actor", "records_subject_category"} {
		e.rawExec(raw, "DROP INDEX "+index) // 15 (it recreates subjects_email and subjects_phone itself)
	}
	e.rawExec(raw, "DROP TABLE compliance_profiles") // 16
	e.rawExec(raw, "DROP TABLE maintenance")
	e.rawExec(raw, "DROP INDEX tenants_slug") // 17
	e.rawExec(raw, "DROP INDEX requests_status_hash")
	e.rawExec(raw, "ALTER TABLE tenants DROP COLUMN slug")
	for _, col := range []string{"language", "proposal", "status_hash", "status_expires_at"} {
		e.rawExec(raw, "ALTER TABLE requests DROP COLUMN "+col)
	}
	e.rawExec(raw, "DROP TABLE master_keys") // 18
	e.rawExec(raw, "DROP TABLE cluster_nodes")
	e.rawExec(raw, "DROP TABLE grant_requests")      // 19
	e.rawExec(raw, "DROP INDEX audit_tenant_action") // 20
	e.rawExec(raw, "DROP TABLE subject_logins")      // 21
	e.rawExec(raw, "DROP TABLE login_throttle")      // 22
	e.rawExec(raw, "DROP TABLE guard_windows")
	e.rawExec(raw, "DROP TABLE job_leases")
	e.rawExec(raw, "ALTER TABLE backup_runs DROP COLUMN lease_until")
	e.rawExec(raw, "DROP TABLE consent_receipts") // 23 (it drops its indexes with it)
	e.rawExec(raw, "DROP TABLE incident_entries") // 24 (its indexes go with the tables)
	e.rawExec(raw, "DROP TABLE incident_tenants")
	e.rawExec(raw, "DROP TABLE incidents")
	e.rawExec(raw, "DROP TABLE compliance_measures") // 25 (drops its index)
	for _, table := range []string{"subprocessors", "subproc_objections", "dpa_acceptances", "register_copies", "register_media"} {
		e.rawExec(raw, "DROP TABLE "+table) // 26 (its indexes go with the tables)
	}
	e.rawExec(raw, "DELETE FROM schema_migrations WHERE version >= 11")
	db := e.h.Reopen(t, e.db, e.options(e.keys))
	rep, err := db.VerifyAuditChain(t.Context())
	if err != nil || rep.Length != 8 || rep.KeyedFrom != 9 {
		t.Fatalf("the upgraded chain: %+v, %v; want 8 unkeyed events, keyed from 9", rep, err)
	}
	ctx := e.as(e.newTenantOn(db, "Tenant U"), "contract")
	if err := db.CreateSubject(ctx, &skjold.Subject{Ref: "U-1", Name: "Upgrade Subject"}); err != nil {
		t.Fatal(err)
	}
	if rep, err = db.VerifyAuditChain(t.Context()); err != nil || rep.Length <= 8 {
		t.Fatalf("after new events: %+v, %v", rep, err)
	}
	// A process with the same key file opens it again, and the boundary holds.
	again := e.h.Reopen(t, db, e.options(e.keys))
	if rep, err := again.VerifyAuditChain(t.Context()); err != nil || rep.KeyedFrom != 9 {
		t.Fatalf("reopened: %+v, %v", rep, err)
	}
	// The new events are keyed: rehashing them plainly is detected at the first of them,
	// and so is moving the boundary (the sealed key is bound to it).
	e.plainRehash(t)
	_, err = db.VerifyAuditChain(t.Context())
	if ce := chainError(t, err); ce.Seq != 9 {
		t.Errorf("ChainError names event %d, want 9: %v", ce.Seq, ce)
	}
	e.rawExec(raw, "UPDATE audit_key SET keyed_from = 1000")
	if _, err := openStore(t, e, e.keys); err == nil || !strings.Contains(err.Error(), "audit key") {
		t.Errorf("opened with the keyed boundary moved: %v", err)
	}
}

// newTenantOn creates a tenant as the operator on db.
func (e *env) newTenantOn(db *store.DB, name string) *tenant {
	e.t.Helper()
	tn := &skjold.Tenant{Name: name}
	tok, err := db.CreateTenant(e.op, tn)
	must(e.t, err)
	return &tenant{Tenant: tn, token: tok}
}

// testAuditCheckpoints: a signed checkpoint detects what the database alone cannot: events
// removed from the end with the head fixed to match. A checkpoint of another database, or an
// altered one, is refused; one taken before a restore of fewer events no longer applies.
func testAuditCheckpoints(t *testing.T, h Harness) {
	e := auditFixture(t, h)
	cp, err := e.db.AuditCheckpoint(t.Context())
	must(t, err)
	if cp.Seq != 8 || len(cp.MAC) == 0 || cp.Key == "" {
		t.Fatalf("checkpoint %+v, want one of 8 events, signed", cp)
	}
	rep, err := e.db.VerifyAuditCheckpoints(t.Context(), []*skjold.AuditCheckpoint{cp})
	if err != nil || rep.Checkpoints != 1 {
		t.Fatalf("VerifyAuditCheckpoints = %+v, %v; want one checkpoint checked", rep, err)
	}

	altered := *cp
	altered.Head = append([]byte{}, cp.Head...)
	altered.Head[0] ^= 1
	_, err = e.db.VerifyAuditCheckpoints(t.Context(), []*skjold.AuditCheckpoint{&altered})
	if ce := chainError(t, err); !strings.Contains(ce.Reason, "checkpoint file was altered") {
		t.Errorf("an altered checkpoint: %v", ce)
	}
	other := auditFixture(t, h)
	foreign, err := other.db.AuditCheckpoint(t.Context())
	must(t, err)
	_, err = e.db.VerifyAuditCheckpoints(t.Context(), []*skjold.AuditCheckpoint{foreign})
	if ce := chainError(t, err); !strings.Contains(ce.Reason, "another audit key") {
		t.Errorf("another database's checkpoint: %v", ce)
	}

	// Truncate the tail and fix audit_head: the database alone still looks sound.
	e.dropAuditTriggers()
	raw := e.raw()
	e.rawExec(raw, "DELETE FROM audit_events WHERE seq > 6")
	e.rawExec(raw, "UPDATE audit_head SET seq = 6, hash = (SELECT hash FROM audit_events WHERE seq = 6) WHERE id = 1")
	if _, err := e.db.VerifyAuditChain(t.Context()); err != nil {
		t.Fatalf("the truncated chain is expected to pass without checkpoints: %v", err)
	}
	_, err = e.db.VerifyAuditCheckpoints(t.Context(), []*skjold.AuditCheckpoint{cp})
	if ce := chainError(t, err); ce.Seq != 7 || !strings.Contains(ce.Reason, "removed from the end") {
		t.Errorf("the truncation against the checkpoint: %v", ce)
	}
	// This process signs the head it committed itself, not the one altered behind its back.
	if now, err := e.db.AuditCheckpoint(t.Context()); err != nil || now.Seq != 8 {
		t.Errorf("checkpoint after the truncation: %+v, %v; want the 8 events this process wrote", now, err)
	}

	// A restore of a backup of 6 events, made after the checkpoint: the checkpoint is of a
	// chain the restore replaced, and verification passes, saying so.
	e.clock.Add(time.Minute)
	must(t, e.db.MarkRestored(e.op, "20250301T093000Z"))
	rep, err = e.db.VerifyAuditCheckpoints(t.Context(), []*skjold.AuditCheckpoint{cp})
	if err != nil || rep.Superseded != 1 || rep.Checkpoints != 0 {
		t.Errorf("after the restore: %+v, %v; want the checkpoint superseded", rep, err)
	}
	// A checkpoint taken after the restore counts again.
	e.clock.Add(time.Minute)
	after, err := e.db.AuditCheckpoint(t.Context())
	must(t, err)
	if rep, err = e.db.VerifyAuditCheckpoints(t.Context(), []*skjold.AuditCheckpoint{cp, after}); err != nil || rep.Checkpoints != 1 || rep.Superseded != 1 {
		t.Errorf("with a checkpoint after the restore: %+v, %v", rep, err)
	}
}

// openStore opens e's database once more with ks, returning Open's error.
func openStore(t *testing.T, e *env, ks *keys.Service) (*store.DB, error) {
	t.Helper()
	db, err := store.Open(t.Context(), e.h.DSN(e.db), e.options(ks))
	if err == nil {
		t.Cleanup(func() { db.Close() })
	}
	return db, err
}
