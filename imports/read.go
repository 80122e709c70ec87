package imports

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/skjold-project/skjold"
	"github.com/xuri/excelize/v2"
)

// Input formats.
const (
	FormatCSV  = "csv"  // one CSV file
	FormatZIP  = "zip"  // a ZIP of CSV files, one per category, as the CSV export writes
	FormatXLSX = "xlsx" // a workbook, one sheet per category, as the XLSX export writes
)

// table is one sheet or CSV file: its name (a category, for the export layout), its header
// and its rows, each with the line it starts on.
type table struct {
	name   string
	header []string
	rows   [][]string
	lines  []int
	xlsx   bool // cells are raw spreadsheet values (dates as serial numbers)
}

// Detect names the format of data: XLSX and ZIP are both ZIP files, told apart by the
// workbook's content types; anything else is taken for CSV.
func Detect(data []byte) string {
	if !bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		return FormatCSV
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return FormatZIP
	}
	for _, f := range zr.File {
		if f.Name == "[Content_Types].xml" {
			return FormatXLSX
		}
	}
	return FormatZIP
}

// readTables reads the tables of data in format.
func readTables(data []byte, format string) ([]*table, error) {
	switch format {
	case FormatCSV:
		t, err := readCSV(skjold.SubjectCategory, bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return []*table{t}, nil
	case FormatZIP:
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, skjold.FieldError("file", "format", "the file is not a ZIP archive")
		}
		var tables []*table
		for _, f := range zr.File {
			if f.FileInfo().IsDir() || !strings.HasSuffix(f.Name, ".csv") {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return nil, skjold.FieldError("file", "format", "a file in the ZIP archive cannot be read")
			}
			t, err := readCSV(strings.TrimSuffix(path.Base(f.Name), ".csv"), rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
			tables = append(tables, t)
		}
		return tables, nil
	case FormatXLSX:
		return readXLSX(data)
	}
	return nil, skjold.FieldError("format", "format", "format must be %s, %s or %s", FormatCSV, FormatZIP, FormatXLSX)
}

// readCSV reads one CSV file: a byte order mark is dropped, and the apostrophe the export
// puts before a cell that a spreadsheet would run as a formula is taken off again.
func readCSV(name string, r io.Reader) (*table, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	t := &table{name: name}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, skjold.FieldError("file", "csv", "%s: line %d is not valid CSV", name, pe.StartLine)
			}
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if t.header == nil {
			if len(rec) > 0 {
				rec[0] = strings.TrimPrefix(rec[0], "\uFEFF")
			}
			t.header = rec
			continue
		}
		for i, v := range rec {
			rec[i] = uncell(v)
		}
		t.rows, t.lines = append(t.rows, rec), append(t.lines, line)
	}
	if t.header == nil {
		return nil, skjold.FieldError("file", "header", "%s has no header row", name)
	}
	return t, nil
}

// uncell undoes export.CSVCell: "'=…" is "=…".
func uncell(v string) string {
	if len(v) > 1 && v[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(v[1])) {
		return v[1:]
	}
	return v
}

// readXLSX reads every sheet of a workbook with raw cell values.
func readXLSX(data []byte) ([]*table, error) {
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		return nil, skjold.FieldError("file", "format", "the file is not an XLSX workbook")
	}
	defer f.Close()
	var tables []*table
	for _, sheet := range f.GetSheetList() {
		rows, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
		if err != nil {
			return nil, fmt.Errorf("imports: sheet cannot be read: %w", err)
		}
		if len(rows) == 0 {
			continue
		}
		t := &table{name: sheet, header: rows[0], xlsx: true}
		for i, r := range rows[1:] {
			t.rows, t.lines = append(t.rows, r), append(t.lines, i+2)
		}
		tables = append(tables, t)
	}
	return tables, nil
}
