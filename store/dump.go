package store

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"time"
)

// A PostgreSQL snapshot is a "skjold-dump-v1": JSON lines that describe themselves, so that a
// restore needs nothing but this package to load them into an empty database.
//
//	{"format":"skjold-dump-v1","engine":"postgres","schema_version":8,"time":"…","tables":["tenants",…]}
//	{"table":"tenants","columns":[{"name":"id","type":"text"},…]}
//	["0193…","Acme AS",…]                  one JSON array per row; bytea as base64, NULL as null
//	{"end":"tenants","rows":2}
//	…                                      every table, parents before the tables that refer to them
//	{"complete":true}                      a dump without it was cut short
//
// Why not pg_dump: it is not always installed beside the server (and must match the server's
// major version), its archive needs pg_restore to read, and its output format is not ours to
// check row by row. This keeps one format we control, checked the same way as the SQLite file.

// dumpHeader is a dump's first line.
type dumpHeader struct {
	Format        string    `json:"format"`
	Engine        string    `json:"engine"`
	SchemaVersion int       `json:"schema_version"`
	Time          time.Time `json:"time"`
	Tables        []string  `json:"tables"`
}

// dumpColumn names a column and its PostgreSQL type (information_schema's data_type).
type dumpColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// dumpLine is any line of a dump that is not a row.
type dumpLine struct {
	Table    string       `json:"table,omitempty"`
	Columns  []dumpColumn `json:"columns,omitempty"`
	End      string       `json:"end,omitempty"`
	Rows     *int64       `json:"rows,omitempty"`
	Complete bool         `json:"complete,omitempty"`
}

// dumpTypes are the column types a dump carries; a migration that brings another must teach
// encodeValue and decodeValue it first (the round-trip tests fail until then).
var dumpTypes = []string{"text", "bigint", "integer", "smallint", "bytea", "boolean"}

// snapshotPostgres writes every table of the current schema, parents first, in one
// repeatable-read, read-only transaction: one consistent view of the whole database.
func (db *DB) snapshotPostgres(ctx context.Context, s *Snapshot) error {
	f, err := os.OpenFile(s.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("store: snapshot: %w", err)
	}
	defer f.Close()
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("store: snapshot: %w", err)
	}
	defer tx.Rollback()
	if err := db.unlimited(ctx, tx); err != nil { // a backup reads every row
		return fmt.Errorf("store: snapshot: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := db.dump(ctx, tx, w, s); err != nil {
		return fmt.Errorf("store: snapshot: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("store: snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("store: snapshot: %w", err)
	}
	return f.Close()
}

func (db *DB) dump(ctx context.Context, tx *sql.Tx, w io.Writer, s *Snapshot) error {
	tables, err := pgTables(ctx, tx)
	if err != nil {
		return err
	}
	s.Rows = make(map[string]int64, len(tables))
	for _, t := range tables {
		s.Rows[t] = 0
	}
	if err := readSeqs(ctx, tx, s.Rows, &s.SchemaVersion, &s.JournalSeq, &s.AuditSeq); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	h := dumpHeader{Format: FormatDump, Engine: Postgres, SchemaVersion: s.SchemaVersion, Time: s.Time, Tables: tables}
	if err := enc.Encode(h); err != nil {
		return err
	}
	for _, t := range tables {
		n, err := dumpTable(ctx, tx, enc, t)
		if err != nil {
			return fmt.Errorf("table %s: %w", t, err)
		}
		s.Rows[t] = n
	}
	return enc.Encode(dumpLine{Complete: true})
}

// dumpTable writes one table: its columns, its rows and its count.
func dumpTable(ctx context.Context, tx *sql.Tx, enc *json.Encoder, table string) (int64, error) {
	cols, err := pgColumns(ctx, tx, table)
	if err != nil {
		return 0, err
	}
	if err := enc.Encode(dumpLine{Table: table, Columns: cols}); err != nil {
		return 0, err
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = quoteIdent(c.Name)
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+joinComma(names)+" FROM "+quoteIdent(table))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	vals, ptrs := make([]any, len(cols)), make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		if err := enc.Encode(vals); err != nil { // []byte encodes as base64, nil as null
			return n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, enc.Encode(dumpLine{End: table, Rows: &n})
}

// pgTables lists the current schema's tables so that each comes after every table it refers
// to (ties by name); a table that refers to itself (subjects' guardians) is loaded by one
// COPY, whose foreign keys PostgreSQL checks at the end of the statement.
func pgTables(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		return nil, err
	}
	tables, err := collect(rows, func(s scanner) (string, error) {
		var n string
		return n, s.Scan(&n)
	})
	if err != nil {
		return nil, err
	}
	rows, err = q.QueryContext(ctx, `SELECT c.relname, p.relname FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
		WHERE k.contype = 'f' AND k.connamespace = current_schema()::regnamespace AND c.oid <> p.oid`)
	if err != nil {
		return nil, err
	}
	deps := map[string][]string{}
	type edge struct{ child, parent string }
	edges, err := collect(rows, func(s scanner) (edge, error) {
		var e edge
		return e, s.Scan(&e.child, &e.parent)
	})
	if err != nil {
		return nil, err
	}
	for _, e := range edges {
		deps[e.child] = append(deps[e.child], e.parent)
	}
	return topoSort(tables, deps)
}

// topoSort orders tables parents first; it fails on a cycle, which a dump cannot load.
func topoSort(tables []string, deps map[string][]string) ([]string, error) {
	var out []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(t string) error
	visit = func(t string) error {
		switch state[t] {
		case 1:
			return fmt.Errorf("tables refer to each other in a cycle through %s", t)
		case 2:
			return nil
		}
		state[t] = 1
		parents := slices.Clone(deps[t])
		sort.Strings(parents)
		for _, p := range parents {
			if err := visit(p); err != nil {
				return err
			}
		}
		state[t] = 2
		out = append(out, t)
		return nil
	}
	for _, t := range tables {
		if err := visit(t); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// pgColumns lists a table's columns in order with their types, refusing a type a dump does
// not carry.
func pgColumns(ctx context.Context, q querier, table string) ([]dumpColumn, error) {
	rows, err := q.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, err
	}
	cols, err := collect(rows, func(s scanner) (dumpColumn, error) {
		var c dumpColumn
		return c, s.Scan(&c.Name, &c.Type)
	})
	if err != nil {
		return nil, err
	}
	for _, c := range cols {
		if !slices.Contains(dumpTypes, c.Type) {
			return nil, fmt.Errorf("column %s has type %s, which a dump does not carry", c.Name, c.Type)
		}
	}
	return cols, nil
}

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string {
	return `"` + string(bytes.ReplaceAll([]byte(s), []byte(`"`), []byte(`""`))) + `"`
}

func joinComma(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(x)
	}
	return b.String()
}

// errDumpTruncated answers for a dump that ends before its last line.
var errDumpTruncated = errors.New("store: the dump ends early: it is truncated")
