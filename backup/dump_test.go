package backup

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/skjold-project/skjold/store"
)

// TestDumpDamaged reads a PostgreSQL snapshot as a dump and refuses it cut short or with a
// row taken out; LoadDump of a damaged dump loads no rows.
func TestDumpDamaged(t *testing.T) {
	f := newFixture(t, store.Postgres)
	f.seed(3)
	snap, err := f.db.Snapshot(t.Context(), t.TempDir())
	must(t, err)
	body, err := os.ReadFile(snap.Path)
	must(t, err)
	info, err := store.ReadDump(bytes.NewReader(body))
	must(t, err)
	if info.Rows["records"] != 6 || info.Rows["subjects"] != 3 || info.SchemaVersion != snap.SchemaVersion {
		t.Fatalf("dump info %+v", info)
	}
	lines := strings.SplitAfter(string(body), "\n")
	var row int // a row of the records table
	for i, l := range lines {
		if strings.HasPrefix(l, `{"table":"records"`) {
			row = i + 1
		}
	}
	cases := map[string]string{
		"Truncated":   strings.Join(lines[:len(lines)-2], ""),
		"RowRemoved":  strings.Join(append(append([]string{}, lines[:row]...), lines[row+1:]...), ""),
		"NotADump":    "SQLite format 3\x00",
		"Appended":    string(body) + "[1]\n",
		"RowTooShort": strings.Join(append(append(append([]string{}, lines[:row]...), "[\"x\"]\n"), lines[row+1:]...), ""),
	}
	for name, damaged := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := store.ReadDump(strings.NewReader(damaged)); err == nil {
				t.Fatal("ReadDump accepted a damaged dump")
			}
			dsn := f.newDSN()
			if _, err := store.LoadDump(t.Context(), dsn, strings.NewReader(damaged), quiet); err == nil {
				t.Fatal("LoadDump accepted a damaged dump")
			}
			conn, err := pgx.Connect(t.Context(), dsn)
			must(t, err)
			defer conn.Close(t.Context())
			var n int
			if err := conn.QueryRow(t.Context(), "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'subjects'").Scan(&n); err != nil || n == 0 {
				return // nothing made at all
			}
			must(t, conn.QueryRow(t.Context(), "SELECT COUNT(*) FROM subjects").Scan(&n))
			if n != 0 {
				t.Errorf("a damaged dump loaded %d subjects", n)
			}
		})
	}
}
