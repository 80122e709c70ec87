package backup

import (
	"context"
	"crypto/rand"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/uuid"
	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// BenchmarkBackupRestore measures a backup (snapshot, zstd, age, two local targets) and a
// restore (checksum, decrypt, decompress, place, migrate, journal replay, audit chain) of a
// SQLite database of 100,000 subjects and 1,000,000 records, the size the restore target
// ("under 2 minutes") is set for [E4]. Rows are inserted with plain SQL, outside the timing:
// their sealed blobs are random bytes of the size the store's sealed values have (they
// compress no better than real ciphertext), so the data cannot be opened, which neither
// backup nor restore needs. docs/performance.md records the figures.
//
//	go test ./backup -run XXX -bench BenchmarkBackupRestore -benchtime 1x -count 3 -timeout 30m
func BenchmarkBackupRestore(b *testing.B) {
	const subjects, recordsPer = 100_000, 10
	dir := b.TempDir()
	ring, err := keys.CreateKeyring(filepath.Join(dir, "master.key"))
	must(b, err)
	ks := keys.NewService(ring)
	path := filepath.Join(dir, "skjold.db")
	tenantID := benchSchema(b, path, ks)
	start := time.Now()
	benchInsert(b, path, tenantID, subjects, recordsPer)
	b.Logf("inserted %d subjects and %d records in %s", subjects, subjects*recordsPer, time.Since(start).Round(time.Second))
	db, err := store.Open(b.Context(), path, store.Options{Keys: ks, Logger: quiet})
	must(b, err)
	defer db.Close()
	fi, err := os.Stat(path)
	must(b, err)
	id, err := age.GenerateX25519Identity()
	must(b, err)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)) // each run's stages and their times
	var backupSecs, restoreSecs float64
	var size int64
	for b.Loop() {
		targets := []skjold.Target{benchDir(b, dir, "a"), benchDir(b, dir, "b")}
		t0 := time.Now()
		m, err := New(db, Options{Recipients: []age.Recipient{id.Recipient()}, Targets: targets, Log: log, TempDir: dir}).Run(b.Context())
		must(b, err)
		t1 := time.Now()
		rep, err := Restore(b.Context(), RestoreOptions{From: targets[1], Identities: []age.Identity{id}, Keys: ks, Log: log,
			DSN: filepath.Join(dir, "restored", uuid.NewString(), "skjold.db")})
		must(b, err)
		backupSecs += t1.Sub(t0).Seconds()
		restoreSecs += rep.Took.Seconds()
		size = m.Size
		if m.Rows["records"] != subjects*recordsPer {
			b.Fatalf("backup holds %d records", m.Rows["records"])
		}
	}
	mb := float64(fi.Size()) / 1e6
	n := float64(b.N)
	b.ReportMetric(mb, "db-MB")
	b.ReportMetric(float64(size)/1e6, "backup-file-MB")
	b.ReportMetric(mb/(backupSecs/n), "backup-MB/s")
	b.ReportMetric(mb/(restoreSecs/n), "restore-MB/s")
	b.ReportMetric(restoreSecs/n, "restore-s")
}

// benchSchema makes the database with one tenant and its travel_booking category through
// the store, and returns the tenant's id.
func benchSchema(b *testing.B, path string, ks skjold.KeyService) string {
	db, err := store.Open(b.Context(), path, store.Options{Keys: ks, Logger: quiet})
	must(b, err)
	defer db.Close()
	op := skjold.NewContextWithCaller(b.Context(), &skjold.Caller{Actor: "bench", Operator: true, Source: "local"})
	tn := &skjold.Tenant{Name: "Bench AS"}
	_, err = db.CreateTenant(op, tn)
	must(b, err)
	return tn.ID
}

// benchInsert inserts subjects with recordsPer records each, in one transaction of plain SQL.
func benchInsert(b *testing.B, path, tenantID string, subjects, recordsPer int) {
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	must(b, err)
	defer raw.Close()
	ctx := context.Background()
	tx, err := raw.BeginTx(ctx, nil)
	must(b, err)
	defer tx.Rollback()
	subj, err := tx.Prepare(`INSERT INTO subjects (id, tenant_id, wrapped_key, fields, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`)
	must(b, err)
	rec, err := tx.Prepare(`INSERT INTO records (id, tenant_id, subject_id, category, fields, created_at, updated_at, retain_from)
		VALUES (?, ?, ?, 'travel_booking', ?, ?, ?, ?)`)
	must(b, err)
	now := time.Now().UnixMicro()
	for range subjects {
		sid := uuid.Must(uuid.NewV7()).String()
		_, err := subj.Exec(sid, tenantID, randomBytes(60), randomBytes(230), now, now)
		must(b, err)
		for range recordsPer {
			_, err := rec.Exec(uuid.Must(uuid.NewV7()).String(), tenantID, sid, randomBytes(250), now, now, now)
			must(b, err)
		}
	}
	must(b, tx.Commit())
	_, err = raw.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	must(b, err)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func benchDir(b *testing.B, dir, name string) skjold.Target {
	t, err := NewDir(filepath.Join(dir, "targets", name, uuid.NewString()))
	must(b, err)
	return t
}

// BenchmarkRestoreAuditChain measures what BenchmarkBackupRestore leaves out: the restore's
// audit chain verification, on a chain grown through the API (one event per created subject,
// written by 16 writers at once), in events verified per second.
//
//	go test ./backup -run XXX -bench BenchmarkRestoreAuditChain -benchtime 1x
func BenchmarkRestoreAuditChain(b *testing.B) {
	const subjects = 50_000
	dir := b.TempDir()
	ring, err := keys.CreateKeyring(filepath.Join(dir, "master.key"))
	must(b, err)
	ks := keys.NewService(ring)
	path := filepath.Join(dir, "skjold.db")
	tenantID := benchSchema(b, path, ks)
	db, err := store.Open(b.Context(), path, store.Options{Keys: ks, Logger: quiet})
	must(b, err)
	defer db.Close()
	ctx := skjold.NewContextWithCaller(b.Context(), &skjold.Caller{Actor: "token:bench", TenantID: tenantID,
		Scopes: skjold.AllScopes, Source: "local"})
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < subjects; i += 16 {
				if err := db.CreateSubject(ctx, &skjold.Subject{Name: "Bench Subject"}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	op := skjold.NewContextWithCaller(b.Context(), &skjold.Caller{Actor: "bench", Operator: true, Source: "local"})
	var length int64
	for b.Loop() {
		rep, err := db.VerifyAuditChain(op)
		must(b, err)
		length = rep.Length
	}
	b.ReportMetric(float64(length), "events")
	b.ReportMetric(float64(length)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
