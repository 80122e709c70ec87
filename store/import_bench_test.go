package store

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/skjold-project/skjold/imports"
)

// BenchmarkImport imports 100,000 subjects (ref, name, e-mail and phone each) from a CSV
// file in the export's layout into an empty tenant on SQLite, in batches of 500: every row is
// checked by the create path's rules, sealed under its own key, written and audited. Target:
// under 60 s. docs/performance.md records the figures.
//
//	go test ./store -run XXX -bench '^BenchmarkImport$' -benchtime 1x -count 3 -timeout 30m
func BenchmarkImport(b *testing.B) {
	subjects := 100_000
	if n, err := strconv.Atoi(os.Getenv("SKJOLD_BENCH_IMPORT_SUBJECTS")); err == nil && n > 0 {
		subjects = n // for a quick profile
	}
	var file bytes.Buffer
	file.WriteString("subject_id,record_id,created_at,ref,name,email,phone\n")
	for i := range subjects {
		fmt.Fprintf(&file, "s%d,,,K-%06d,Kari Nordmann %d,kari.%d@example.com,+47 9%07d\n", i, i, i, i, i)
	}
	for b.Loop() {
		b.StopTimer()
		db, ctx := benchStore(b)
		b.StartTimer()
		start := time.Now()
		rep, err := imports.Run(ctx, db, db, file.Bytes(), imports.Options{})
		if err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		if rep.Imported != subjects || rep.Refused != 0 {
			b.Fatalf("report: %d imported, %d refused, problems %v", rep.Imported, rep.Refused, rep.Problems[:min(3, len(rep.Problems))])
		}
		b.ReportMetric(took.Seconds(), "s/import")
		b.ReportMetric(float64(subjects)/took.Seconds(), "subjects/s")
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/1e6, "MB-heap-after")
	}
}
