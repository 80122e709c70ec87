package store

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// DumpInfo is what a dump says of itself once read to the end.
type DumpInfo struct {
	SchemaVersion int
	Rows          map[string]int64
	// Cleaned says that the database held an interrupted restore (marked restore-pending),
	// whose tables LoadDump dropped before loading.
	Cleaned bool
}

// dumpReader reads a skjold-dump-v1 line by line, checking its structure as it goes: the
// header, each table in the order the header lists, each row's width, each table's count,
// and the closing line.
type dumpReader struct {
	r      *bufio.Reader
	header dumpHeader
	info   DumpInfo
}

func newDumpReader(r io.Reader) (*dumpReader, error) {
	d := &dumpReader{r: bufio.NewReaderSize(r, 1<<20)}
	line, err := d.line()
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(line, &d.header); err != nil || d.header.Format != FormatDump {
		return nil, errors.New("store: not a skjold-dump-v1 dump")
	}
	d.info = DumpInfo{SchemaVersion: d.header.SchemaVersion, Rows: make(map[string]int64, len(d.header.Tables))}
	return d, nil
}

// line returns the next line without its newline; a dump never ends without its closing line.
func (d *dumpReader) line() ([]byte, error) {
	line, err := d.r.ReadBytes('\n')
	if errors.Is(err, io.EOF) {
		return nil, errDumpTruncated
	}
	if err != nil {
		return nil, fmt.Errorf("store: read dump: %w", err)
	}
	return line[:len(line)-1], nil
}

// table reads the line that starts table and returns its columns.
func (d *dumpReader) table(table string) ([]dumpColumn, error) {
	line, err := d.line()
	if err != nil {
		return nil, err
	}
	var l dumpLine
	if err := json.Unmarshal(line, &l); err != nil || l.Table != table || len(l.Columns) == 0 {
		return nil, fmt.Errorf("store: the dump is damaged: table %s does not start where it should", table)
	}
	d.info.Rows[table] = 0
	return l.Columns, nil
}

// row returns the next row of table, or nil at its end line, whose count it checks against
// the rows read.
func (d *dumpReader) row(table string, cols []dumpColumn) ([]json.RawMessage, error) {
	line, err := d.line()
	if err != nil {
		return nil, err
	}
	if len(line) > 0 && line[0] == '[' {
		var vals []json.RawMessage
		if err := json.Unmarshal(line, &vals); err != nil || len(vals) != len(cols) {
			return nil, fmt.Errorf("store: the dump is damaged: a row of %s is malformed", table)
		}
		d.info.Rows[table]++
		return vals, nil
	}
	var l dumpLine
	if err := json.Unmarshal(line, &l); err != nil || l.End != table || l.Rows == nil {
		return nil, fmt.Errorf("store: the dump is damaged in table %s", table)
	}
	if *l.Rows != d.info.Rows[table] {
		return nil, fmt.Errorf("store: the dump is damaged: table %s has %d rows, its end line says %d", table, d.info.Rows[table], *l.Rows)
	}
	return nil, nil
}

// end reads the closing line and checks that nothing follows it.
func (d *dumpReader) end() error {
	line, err := d.line()
	if err != nil {
		return err
	}
	var l dumpLine
	if err := json.Unmarshal(line, &l); err != nil || !l.Complete {
		return errors.New("store: the dump is damaged: it does not end where it should")
	}
	if _, err := d.r.ReadByte(); !errors.Is(err, io.EOF) {
		return errors.New("store: the dump is damaged: something follows its end")
	}
	return nil
}

// ReadDump reads a whole dump, checking its structure, and returns its schema version and
// the rows of each table. It is how a backup of PostgreSQL is verified without a database.
func ReadDump(r io.Reader) (*DumpInfo, error) {
	d, err := newDumpReader(r)
	if err != nil {
		return nil, err
	}
	for _, t := range d.header.Tables {
		cols, err := d.table(t)
		if err != nil {
			return nil, err
		}
		for {
			vals, err := d.row(t, cols)
			if err != nil {
				return nil, err
			}
			if vals == nil {
				break
			}
		}
	}
	return &d.info, d.end()
}

// decodeValue turns a row's JSON value into what COPY takes for a column of type typ.
func decodeValue(raw json.RawMessage, typ string) (any, error) {
	if bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	switch typ {
	case "text":
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case "bigint", "integer", "smallint":
		var n int64
		err := json.Unmarshal(raw, &n)
		return n, err
	case "boolean":
		var b bool
		err := json.Unmarshal(raw, &b)
		return b, err
	case "bytea":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return base64.StdEncoding.DecodeString(s)
	}
	return nil, fmt.Errorf("type %s is not carried by a dump", typ)
}
