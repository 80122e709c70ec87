package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// BenchmarkRetentionSweep measures a retention sweep erasing 1,000,000 expired records from
// a SQLite store while readers keep calling the API's read path (FindSubjectByID and
// FindRecords of live subjects, each audited through the same writer the sweep uses). It
// reports the sweep's duration and rate and the readers' latency percentiles; the target
// is a sweep under 60 s with read p99 under 100 ms. docs/performance.md records the figures.
//
//	go test ./store -run XXX -bench BenchmarkRetentionSweep -benchtime 1x
func BenchmarkRetentionSweep(b *testing.B) {
	for _, batch := range []int{500} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchSweep(b, batch) })
	}
}

const (
	benchExpired      = 1_000_000 // expired records, spread over benchOwners subjects
	benchOwners       = 1_000
	benchLive         = 100 // live subjects the readers read, each with benchLiveRecords
	benchLiveRecords  = 10
	benchReaders      = 4
	benchInsertPerTxn = 50_000
)

func benchSweep(b *testing.B, batch int) {
	for range b.N {
		b.StopTimer()
		db, live := newSweepBench(b)
		b.StartTimer()
		lat, rep, took := sweepWhileReading(b, db, live, batch)
		b.StopTimer()
		if rep.ErasedRecords != benchExpired {
			b.Fatalf("sweep erased %d records, want %d", rep.ErasedRecords, benchExpired)
		}
		slices.Sort(lat)
		b.ReportMetric(took.Seconds(), "sweep-s")
		b.ReportMetric(float64(rep.ErasedRecords)/took.Seconds(), "records/s")
		b.ReportMetric(percentile(lat, 50), "read-p50-ms")
		b.ReportMetric(percentile(lat, 99), "read-p99-ms")
		b.ReportMetric(percentile(lat, 100), "read-max-ms")
		b.ReportMetric(float64(len(lat)), "reads")
	}
}

// percentile returns the p-th percentile of sorted latencies, in milliseconds.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(len(sorted)-1, int(float64(len(sorted))*p/100))
	return float64(sorted[i]) / float64(time.Millisecond)
}

// sweepWhileReading runs the sweep while benchReaders goroutines read live subjects, and
// returns every read's latency, the report and the sweep's duration.
func sweepWhileReading(b *testing.B, db *store.DB, live []tenantSubject, batch int) ([]time.Duration, *skjold.SweepReport, time.Duration) {
	ctx, stop := context.WithCancel(b.Context())
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for r := range benchReaders {
		wg.Go(func() {
			var mine []time.Duration
			for i := r; ctx.Err() == nil; i++ {
				ts := live[i%len(live)]
				start := time.Now()
				var err error
				if i%2 == 0 {
					_, err = db.FindSubjectByID(ts.ctx, ts.id)
				} else {
					_, err = db.FindRecords(ts.ctx, skjold.RecordFilter{SubjectID: ts.id})
				}
				if err != nil && ctx.Err() == nil {
					b.Errorf("read during the sweep: %v", err)
					return
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	start := time.Now()
	rep, err := db.Sweep(b.Context(), batch)
	took := time.Since(start)
	stop()
	wg.Wait()
	if err != nil {
		b.Fatalf("Sweep: %v", err)
	}
	return lat, rep, took
}

type tenantSubject struct {
	ctx context.Context
	id  string
}

// newSweepBench opens a SQLite store with one tenant holding benchExpired enquiries a year
// past their period, spread over benchOwners subjects, and benchLive live subjects with
// fresh records. The expired rows are inserted with plain SQL: they share one sealed blob,
// which the sweep never opens (enquiries count from creation).
func newSweepBench(b *testing.B) (*store.DB, []tenantSubject) {
	b.Helper()
	dir := b.TempDir()
	ring, err := keys.CreateKeyring(filepath.Join(dir, "master.key"))
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "skjold.db")
	db, err := store.Open(b.Context(), path, store.Options{Keys: keys.NewService(ring), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	op := skjold.NewContextWithCaller(b.Context(), &skjold.Caller{Actor: "bench", Operator: true, Source: "local"})
	tn := &skjold.Tenant{Name: "Fjord Travel AS"}
	if _, err := db.CreateTenant(op, tn); err != nil {
		b.Fatal(err)
	}
	ctx := skjold.NewContextWithCaller(b.Context(), &skjold.Caller{Actor: "token:bench", TenantID: tn.ID,
		Scopes: skjold.AllScopes, Source: "local", Purpose: "contract"})
	owners := benchSubjects(b, db, ctx, benchOwners)
	live := benchSubjects(b, db, ctx, benchLive)
	var out []tenantSubject
	var blob []byte
	for _, id := range live {
		for range benchLiveRecords {
			r := &skjold.Record{SubjectID: id, Category: "enquiry", Data: map[string]any{"message": "When does the ferry leave?"}}
			if err := db.CreateRecord(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
		out = append(out, tenantSubject{ctx: ctx, id: id})
	}
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	if err := raw.QueryRow("SELECT fields FROM records LIMIT 1").Scan(&blob); err != nil {
		b.Fatal(err)
	}
	insertExpired(b, raw, tn.ID, owners, blob)
	return db, out
}

func benchSubjects(b *testing.B, db *store.DB, ctx context.Context, n int) []string {
	b.Helper()
	ids := make([]string, n)
	for i := range ids {
		s := &skjold.Subject{Name: fmt.Sprintf("Subject %d", i), Email: fmt.Sprintf("s%d@bench.example", i)}
		if err := db.CreateSubject(ctx, s); err != nil {
			b.Fatal(err)
		}
		ids[i] = s.ID
	}
	return ids
}

// insertExpired inserts benchExpired enquiries anchored a year and more before now.
func insertExpired(b *testing.B, raw *sql.DB, tenantID string, owners []string, blob []byte) {
	b.Helper()
	old := time.Now().AddDate(-1, -2, 0).UnixMicro()
	for start := 0; start < benchExpired; start += benchInsertPerTxn {
		tx, err := raw.Begin()
		if err != nil {
			b.Fatal(err)
		}
		stmt, err := tx.Prepare(`INSERT INTO records (id, tenant_id, subject_id, category, fields, created_at, updated_at, retain_from)
			VALUES (?, ?, ?, 'enquiry', ?, ?, ?, ?)`)
		if err != nil {
			b.Fatal(err)
		}
		for i := start; i < min(start+benchInsertPerTxn, benchExpired); i++ {
			at := old + int64(i)*1000
			if _, err := stmt.Exec(fmt.Sprintf("00000000-0000-7000-8000-%012d", i), tenantID, owners[i%len(owners)], blob, at, at, at); err != nil {
				b.Fatal(err)
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := raw.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
}
