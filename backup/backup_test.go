package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// TestRoundTrip backs up a live database to two mirrored directories, erases a subject after
// the backup, and restores from the second mirror into a new database: the erasure is
// applied again, the other subjects open with the master key, the chain verifies [E1, E4, D4].
func TestRoundTrip(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			f := newFixture(t, engine)
			f.seed(5)
			m := f.backup()
			checkManifest(t, f, m)
			gone := f.subjects[1]
			_, err := f.db.EraseSubject(f.ctx, gone.ID, skjold.ErasedOnRequest)
			must(t, err)
			must(t, f.backuper().SyncJournal(t.Context()))

			dsn := f.newDSN()
			rep, err := Restore(t.Context(), f.restoreOptions(f.targets[1], dsn))
			must(t, err)
			if rep.Manifest.ID != m.ID || rep.Replayed != 1 || rep.Took <= 0 || rep.ChainLength <= m.AuditSeq {
				t.Errorf("report %+v, want backup %s, 1 replayed, a chain longer than %d", rep, m.ID, m.AuditSeq)
			}
			db := openDB(t, dsn, f.keys)
			if _, err := db.FindSubjectByID(f.ctx, gone.ID); skjold.ErrorCode(err) != skjold.ENOTFOUND {
				t.Errorf("the subject erased after the backup is back after the restore: %v", err)
			}
			s, err := db.FindSubjectByID(f.ctx, f.subjects[2].ID)
			must(t, err)
			if s.Name != f.subjects[2].Name {
				t.Errorf("restored subject's name %q, want %q", s.Name, f.subjects[2].Name)
			}
			j, err := db.FindJournal(f.op, 0, 10)
			must(t, err)
			if len(j) != 1 || j[0].SubjectID != gone.ID || j[0].Seq != m.JournalSeq+1 {
				t.Errorf("restored journal %+v, want the replayed erasure at seq %d", j, m.JournalSeq+1)
			}
			if _, err := db.VerifyAuditChain(f.op); err != nil {
				t.Errorf("chain: %v", err)
			}
			// A second restore of the restored state replays nothing more: the journal is
			// idempotent.
			n, err := db.ReplayJournal(f.op, j, m.JournalSeq, m.ID)
			if err != nil || n != 0 {
				t.Errorf("replaying again applied %d entries (%v), want 0", n, err)
			}
		})
	}
}

// TestRestoreReplaysHeldErasure: an erasure after the backup that had to keep an invoice is
// replayed as the same erasure, not a deletion of everything: the profile and the booking go
// again, the invoice stays under the accounting law.
func TestRestoreReplaysHeldErasure(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			f := newFixture(t, engine)
			f.seed(2)
			held := f.subjects[0]
			inv := &skjold.Record{SubjectID: held.ID, Category: "invoice", Data: map[string]any{
				"invoice_number": "F-77", "invoice_date": time.Now().UTC().Format(time.DateOnly), "amount": 250.0}}
			must(t, f.db.CreateRecord(f.ctx, inv))
			f.backup()
			rep, err := f.db.EraseSubject(f.ctx, held.ID, skjold.ErasedOnRequest)
			must(t, err)
			if rep.Complete || len(rep.Kept) != 1 {
				t.Fatalf("erasure %+v, want the invoice kept", rep)
			}
			must(t, f.backuper().SyncJournal(t.Context()))

			dsn := f.newDSN()
			rr, err := Restore(t.Context(), f.restoreOptions(f.targets[0], dsn))
			must(t, err)
			if rr.Replayed != 1 {
				t.Errorf("replayed %d entries, want 1", rr.Replayed)
			}
			db := openDB(t, dsn, f.keys)
			claims := skjold.NewContextWithCaller(t.Context(), &skjold.Caller{Actor: "token:test", TenantID: f.tenantID,
				Scopes: skjold.AllScopes, Source: "127.0.0.1", Purpose: skjold.PurposeLegalClaims})
			recs, err := db.FindRecords(claims, skjold.RecordFilter{SubjectID: held.ID})
			must(t, err)
			if len(recs) != 1 || recs[0].ID != inv.ID {
				t.Errorf("after the restore the subject has %d records, want only the invoice", len(recs))
			}
			found, err := db.FindSubjects(f.ctx, skjold.SubjectFilter{Email: held.Email})
			must(t, err)
			if len(found) != 0 {
				t.Error("the erased profile is found by e-mail again after the restore")
			}
		})
	}
}

// checkManifest checks what a fresh backup's manifest says against the database and the
// targets.
func checkManifest(t *testing.T, f *fixture, m *skjold.Manifest) {
	t.Helper()
	wantFormat := map[string]string{store.SQLite: store.FormatSQLite, store.Postgres: store.FormatDump}[f.engine]
	version, err := f.db.SchemaVersion(t.Context())
	must(t, err)
	if !ValidID(m.ID) || m.Engine != f.engine || m.Format != wantFormat || m.SchemaVersion != version ||
		m.Size <= 0 || len(m.SHA256) != 64 || m.KeyFingerprint != f.keys.PrimaryKeyID() || m.AuditSeq == 0 {
		t.Errorf("manifest %+v", m)
	}
	if m.Rows["subjects"] != 5 || m.Rows["records"] != 10 || m.Rows["tenants"] != 1 {
		t.Errorf("manifest rows %v, want 5 subjects, 10 records, 1 tenant", m.Rows)
	}
	if !slices.Equal(m.Recipients, []string{f.id.Recipient().String()}) {
		t.Errorf("manifest recipients %v", m.Recipients)
	}
	for _, target := range f.targets {
		ms, err := List(t.Context(), target)
		must(t, err)
		if len(ms) != 1 || ms[0].ID != m.ID || ms[0].SHA256 != m.SHA256 {
			t.Errorf("%s lists %v, want backup %s", target.Name(), ms, m.ID)
		}
		if body := objectBytes(t, target, skjold.BackupFile(m.ID)); bytes.Contains(body, []byte("Ingrid")) {
			t.Errorf("%s holds the backup unencrypted", target.Name())
		}
	}
}

// TestDamagedBackupRefused flips a bit in, or cuts short, the backup file on the target,
// with the manifest left alone (the checksum catches it before decrypting) and with the
// manifest rewritten to match (age's authentication catches it): each is refused with a
// clear error, and nothing is restored.
func TestDamagedBackupRefused(t *testing.T) {
	f := newFixture(t, store.SQLite)
	f.seed(3)
	m := f.backup()
	good := objectBytes(t, f.targets[0], skjold.BackupFile(m.ID))
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x04
	cases := []struct {
		name        string
		body        []byte
		fixManifest bool
		want        string
	}{
		{"BitFlipped", flipped, false, "SHA-256 does not match"},
		{"Truncated", good[:len(good)-100], false, "truncated"},
		{"BitFlippedManifestToo", flipped, true, "damaged or was altered"},
		{"TruncatedManifestToo", good[:len(good)-100], true, "damaged or was altered"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			target, err := NewDir(t.TempDir())
			must(t, err)
			_, err = target.Put(t.Context(), skjold.BackupFile(m.ID), bytes.NewReader(c.body))
			must(t, err)
			mm := *m
			if c.fixManifest {
				mm.Size, mm.SHA256 = int64(len(c.body)), sha256Hex(c.body)
			}
			body, _ := json.Marshal(&mm)
			_, err = target.Put(t.Context(), skjold.ManifestFile(m.ID), bytes.NewReader(body))
			must(t, err)
			dsn := f.newDSN()
			_, err = Restore(t.Context(), f.restoreOptions(target, dsn))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("restore: %v, want ErrCorrupt saying %q", err, c.want)
			}
			if _, serr := os.Stat(dsn); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("a damaged backup left a database at %s", dsn)
			}
			if _, err := Verify(t.Context(), target, m.ID, []age.Identity{f.id}); !errors.Is(err, ErrCorrupt) {
				t.Errorf("verify: %v, want ErrCorrupt", err)
			}
		})
	}
}

// TestWrongIdentity refuses to restore with an identity the backup was not made for.
func TestWrongIdentity(t *testing.T) {
	f := newFixture(t, store.SQLite)
	f.seed(1)
	f.backup()
	other, err := age.GenerateX25519Identity()
	must(t, err)
	o := f.restoreOptions(f.targets[0], f.newDSN())
	o.Identities = []age.Identity{other}
	_, err = Restore(t.Context(), o)
	if !errors.Is(err, ErrWrongIdentity) || !strings.Contains(err.Error(), "the identity does not match the backup's recipients") {
		t.Errorf("restore with another identity: %v", err)
	}
	if _, err := os.Stat(o.DSN); !errors.Is(err, os.ErrNotExist) {
		t.Error("a refused restore left a database")
	}
}

// TestRestoreRefusesExistingDatabase never restores over data: an existing SQLite file or a
// PostgreSQL database with tables is refused and left as it was.
func TestRestoreRefusesExistingDatabase(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			f := newFixture(t, engine)
			f.seed(1)
			f.backup()
			dsn := f.newDSN()
			other := openDB(t, dsn, f.keys) // a live database already there
			_, err := Restore(t.Context(), f.restoreOptions(f.targets[0], dsn))
			if err == nil || !strings.Contains(err.Error(), "restore into a new") {
				t.Errorf("restore over a database: %v, want a refusal", err)
			}
			if _, err := other.VerifyAuditChain(f.op); err != nil {
				t.Errorf("the existing database was changed: %v", err)
			}
		})
	}
}

// TestVerify checks a backup by its checksum, and with the identity in full.
func TestVerify(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			f := newFixture(t, engine)
			f.seed(2)
			m := f.backup()
			for _, ids := range [][]age.Identity{nil, {f.id}} {
				got, err := Verify(t.Context(), f.targets[0], m.ID, ids)
				if err != nil || got.ID != m.ID {
					t.Errorf("verify with %d identities: %v", len(ids), err)
				}
			}
			// A manifest whose counts do not match what the file holds fails the full check.
			mm := *m
			mm.Rows = map[string]int64{}
			for k, v := range m.Rows {
				mm.Rows[k] = v
			}
			mm.Rows["subjects"]++
			body, _ := json.Marshal(&mm)
			_, err := f.targets[0].Put(t.Context(), skjold.ManifestFile(m.ID), bytes.NewReader(body))
			must(t, err)
			_, err = Verify(t.Context(), f.targets[0], m.ID, []age.Identity{f.id})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "table subjects has 2 rows, its manifest says 3") {
				t.Errorf("verify against altered counts: %v", err)
			}
			if _, err := Verify(t.Context(), f.targets[0], "nonsense", nil); skjold.ErrorCode(err) != skjold.EINVALID {
				t.Errorf("verify of a malformed id: %v", err)
			}
		})
	}
}

// TestNoRecipient refuses a backup nobody could read and says how to make a recipient.
func TestNoRecipient(t *testing.T) {
	f := newFixture(t, store.SQLite)
	_, err := New(f.db, Options{Targets: f.targets, Log: quiet}).Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "skjold backup keygen") {
		t.Errorf("backup without recipients: %v", err)
	}
	if names, _ := f.targets[0].List(t.Context()); len(names) != 0 {
		t.Errorf("target holds %v", names)
	}
}

// TestPassphrase makes a backup to a passphrase and restores it with the passphrase.
func TestPassphrase(t *testing.T) {
	f := newFixture(t, store.SQLite)
	f.seed(1)
	r, err := age.NewScryptRecipient("correct horse battery staple")
	must(t, err)
	r.SetWorkFactor(10) // fast for the test
	m, err := New(f.db, Options{Recipients: []age.Recipient{r}, Targets: f.targets[:1], Log: quiet}).Run(t.Context())
	must(t, err)
	if !slices.Equal(m.Recipients, []string{"scrypt"}) {
		t.Errorf("recipients %v", m.Recipients)
	}
	id, err := age.NewScryptIdentity("correct horse battery staple")
	must(t, err)
	o := f.restoreOptions(f.targets[0], f.newDSN())
	o.Identities = []age.Identity{id}
	_, err = Restore(t.Context(), o)
	must(t, err)
}

// TestOneTargetFails keeps backing up to the targets that work and names the one that did not.
func TestOneTargetFails(t *testing.T) {
	f := newFixture(t, store.SQLite)
	f.seed(1)
	broken, err := NewDir(t.TempDir())
	must(t, err)
	dir := broken.(*Dir).path
	must(t, os.Chmod(dir, 0o500))
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	if os.Geteuid() == 0 {
		broken = failingTarget{broken}
	}
	targets := []skjold.Target{broken, f.targets[0]}
	m, err := New(f.db, Options{Recipients: []age.Recipient{f.id.Recipient()}, Targets: targets, Log: quiet}).Run(t.Context())
	if m == nil || err == nil || !strings.Contains(err.Error(), "on 1 of 2 targets") || !strings.Contains(err.Error(), broken.Name()) {
		t.Fatalf("backup with a broken target: %v, %v", m, err)
	}
	if _, err := Verify(t.Context(), f.targets[0], m.ID, []age.Identity{f.id}); err != nil {
		t.Errorf("the working target's copy: %v", err)
	}
}

// failingTarget refuses every write (root ignores directory permissions).
type failingTarget struct{ skjold.Target }

func (failingTarget) Put(ctx context.Context, name string, r io.Reader) (string, error) {
	return "", errors.New("disk full")
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestBackupWhileWriting takes backups while subjects are being written: each snapshot is
// consistent (its content matches the counts taken from it) and the writes go on [E1].
func TestBackupWhileWriting(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			f := newFixture(t, engine)
			f.seed(1)
			ctx, stop := context.WithCancel(t.Context())
			done := make(chan int)
			go func() {
				n := 0
				for ctx.Err() == nil {
					if err := f.db.CreateSubject(f.ctx, &skjold.Subject{Name: "Writer"}); err == nil {
						n++
					}
				}
				done <- n
			}()
			var ms []*skjold.Manifest
			for range 3 {
				ms = append(ms, f.backup())
			}
			stop()
			if n := <-done; n == 0 {
				t.Error("no write went through while the backups ran")
			}
			for _, m := range ms {
				if _, err := Verify(t.Context(), f.targets[0], m.ID, []age.Identity{f.id}); err != nil {
					t.Errorf("backup %s: %v", m.ID, err)
				}
			}
			if ms[0].Rows["subjects"] > ms[2].Rows["subjects"] {
				t.Errorf("later backup holds fewer subjects: %d, %d", ms[0].Rows["subjects"], ms[2].Rows["subjects"])
			}
		})
	}
}
