package store

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/export"
	"github.com/skjold-project/skjold/keys"
)

// The benchmarks below measure a tenant export of 100,000 subjects to XLSX (target under
// 15 s, with its peak memory) and an access package for a subject with 1,000 records
// (target under 1 s), both on SQLite. The data is inserted directly, sealed as the store
// seals it, and is not part of the measured time. docs/performance.md records the figures.
//
//	go test ./store -run XXX -bench 'BenchmarkExportTenantXLSX|BenchmarkAccessPackage' -benchtime 1x -count 3

const (
	benchExportSubjects = 100_000
	benchPackageRecords = 1_000
	benchInsertBatch    = 2_000
)

// benchTrip is the category of the benchmark's records: a field of every type.
func benchTrip() *skjold.Category {
	return &skjold.Category{Name: "trip", Purposes: []string{"service"}, LegalBasis: skjold.BasisContract,
		Retention: skjold.Retention{Period: "P5Y", From: skjold.RetentionFromCreated},
		Fields: []skjold.Field{{Name: "destination", Type: skjold.TypeString}, {Name: "travel_date", Type: skjold.TypeDate},
			{Name: "booked_at", Type: skjold.TypeDateTime}, {Name: "price", Type: skjold.TypeNumber},
			{Name: "nights", Type: skjold.TypeInteger}, {Name: "insured", Type: skjold.TypeBoolean}}}
}

func benchTripData(i int) map[string]any {
	return map[string]any{"destination": fmt.Sprintf("Tromsø %d", i), "travel_date": "2025-07-14",
		"booked_at": "2025-02-03T04:05:06+01:00", "price": 1234.5 + float64(i%100), "nights": i % 21, "insured": i%2 == 0}
}

// benchStore opens a SQLite store with one tenant that keeps bulk exports off four eyes,
// and returns it with a context acting in the tenant with every scope.
func benchStore(b *testing.B) (*DB, context.Context) {
	b.Helper()
	dir := b.TempDir()
	ring, err := keys.CreateKeyring(filepath.Join(dir, "master.key"))
	if err != nil {
		b.Fatal(err)
	}
	db, err := Open(b.Context(), filepath.Join(dir, "skjold.db"), Options{Keys: keys.NewService(ring),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	op := skjold.NewContextWithCaller(b.Context(), &skjold.Caller{Actor: "bench", Operator: true, Source: "127.0.0.1"})
	tn := &skjold.Tenant{Name: "Bench AS"}
	if _, err := db.CreateTenant(op, tn); err != nil {
		b.Fatal(err)
	}
	ctx := skjold.NewContextWithCaller(b.Context(), &skjold.Caller{Actor: "token:bench", TenantID: tn.ID,
		Scopes: skjold.AllScopes, Source: "127.0.0.1"})
	if _, err := db.PutCategory(ctx, benchTrip()); err != nil {
		b.Fatal(err)
	}
	// Four eyes off, as two owners would switch it off through approvals.
	set := skjold.DefaultSessionSettings()
	set.FourEyes = []string{}
	value, _ := json.Marshal(&set)
	if err := db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec("INSERT INTO settings (tenant_id, name, value, updated_at) VALUES (?, ?, ?, ?)",
			tn.ID, sessionSettings, string(value), micros(db.now()))
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return db, ctx
}

// benchRow is one subject ready to insert: its wrapped key, sealed profile and records.
type benchRow struct {
	id, name      string
	wrapped, prof []byte
	recIDs        []string
	recs          [][]byte
}

// sealBench makes subject n with records records, sealed under a fresh key.
func sealBench(tk skjold.TenantKey, n, records int) (benchRow, error) {
	r := benchRow{id: newID()}
	key, wrapped, err := tk.NewSubjectKey(r.id)
	if err != nil {
		return r, err
	}
	r.wrapped = wrapped
	r.prof, err = sealValues(key, "", map[string]any{"name": fmt.Sprintf("Subject Nummer %d", n),
		"email": fmt.Sprintf("s%d@example.com", n), "birth_date": "1980-04-02"})
	for i := 0; i < records && err == nil; i++ {
		id := newID()
		var blob []byte
		blob, err = sealValues(key, id, benchTripData(n+i))
		r.recIDs, r.recs = append(r.recIDs, id), append(r.recs, blob)
	}
	return r, err
}

// insertBench inserts subjects subjects with records records each, sealing in parallel and
// writing in batches.
func insertBench(b *testing.B, db *DB, ctx context.Context, subjects, records int) []string {
	b.Helper()
	c, _ := skjold.TenantCaller(ctx)
	tk, err := db.tenantKey(ctx, c.TenantID)
	if err != nil {
		b.Fatal(err)
	}
	rows := make([]benchRow, subjects)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := int(next.Add(1)) - 1; n < subjects; n = int(next.Add(1)) - 1 {
				r, err := sealBench(tk, n, records)
				if err != nil {
					failed.Store(err)
					return
				}
				rows[n] = r
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	now := micros(db.now())
	ids := make([]string, 0, subjects)
	for start := 0; start < subjects; start += benchInsertBatch {
		err := db.write(ctx, func(tx *Tx) error {
			for _, r := range rows[start:min(start+benchInsertBatch, subjects)] {
				if _, err := tx.exec(`INSERT INTO subjects (id, tenant_id, wrapped_key, fields, created_at, updated_at)
					VALUES (?, ?, ?, ?, ?, ?)`, r.id, c.TenantID, r.wrapped, r.prof, now, now); err != nil {
					return err
				}
				for i, blob := range r.recs {
					if _, err := tx.exec(`INSERT INTO records (id, tenant_id, subject_id, category, fields, created_at, updated_at, retain_from)
						VALUES (?, ?, ?, 'trip', ?, ?, ?, ?)`, r.recIDs[i], c.TenantID, r.id, blob, now, now, now); err != nil {
						return err
					}
				}
				ids = append(ids, r.id)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	// A live database has its log checkpointed; reads from a long log are slower.
	if _, err := db.wdb.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	return ids
}

// countingSink counts the rows it passes on.
type countingSink struct {
	skjold.ExportSink
	rows int
}

func (s *countingSink) Row(r *skjold.ExportRow) error { s.rows++; return s.ExportSink.Row(r) }

// heapPeak samples the heap in use every 5 ms until stop is called, and returns the peak.
func heapPeak() (stop func() uint64) {
	var peak uint64
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		var m runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); <-finished; return peak }
}

func BenchmarkExportTenantXLSX(b *testing.B) {
	db, ctx := benchStore(b)
	insertBench(b, db, ctx, benchExportSubjects, 1)
	out := filepath.Join(b.TempDir(), "export.xlsx")
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	b.ResetTimer()
	for b.Loop() {
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		stop, cpu0 := heapPeak(), cpuTime()
		x := export.NewXLSX(f)
		sink := &countingSink{ExportSink: x}
		if err := db.ExportTenant(ctx, "", sink); err != nil {
			b.Fatal(err)
		}
		if err := x.Close(); err != nil {
			b.Fatal(err)
		}
		peak, cpu := stop(), cpuTime()-cpu0
		fi, _ := f.Stat()
		f.Close()
		if sink.rows != 2*benchExportSubjects {
			b.Fatalf("exported %d rows, want %d", sink.rows, 2*benchExportSubjects)
		}
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(peak-min(peak, base.HeapInuse))/(1<<20), "export-heap-MB")
		b.ReportMetric(float64(fi.Size())/(1<<20), "xlsx-MB")
		b.ReportMetric(cpu.Seconds(), "cpu-s")
	}
}

func BenchmarkAccessPackage(b *testing.B) {
	db, ctx := benchStore(b)
	id := insertBench(b, db, ctx, 1, benchPackageRecords)[0]
	var size int64
	cpu0 := cpuTime()
	for b.Loop() {
		d, err := db.SubjectData(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		if len(d.Records["trip"]) != benchPackageRecords {
			b.Fatalf("%d records, want %d", len(d.Records["trip"]), benchPackageRecords)
		}
		w := &countWriter{}
		if err := export.AccessPackage(w, d); err != nil {
			b.Fatal(err)
		}
		size = w.n
	}
	b.ReportMetric(float64(size)/(1<<10), "zip-KB")
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// cpuTime returns the CPU time (user and system) the process used so far: on a busy
// machine it tells the work apart from the wait.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)
