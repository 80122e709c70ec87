package export

import (
	"archive/zip"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

// CSVWriter writes CSV for people who open it in a spreadsheet program: a UTF-8 byte order
// mark first, so that Excel and LibreOffice read Polish and Norwegian letters as such, and
// every cell through CSVCell, so that no cell runs as a formula. Every CSV that Skjold hands
// out is written by one.
type CSVWriter struct {
	w   io.Writer
	cw  *csv.Writer
	bom bool // written
	rec []string
}

// NewCSVWriter returns a CSVWriter writing to w.
func NewCSVWriter(w io.Writer) *CSVWriter { return &CSVWriter{w: w, cw: csv.NewWriter(w)} }

// Write writes one row, each cell neutralised by CSVCell; the first call writes the byte order
// mark first.
func (c *CSVWriter) Write(row []string) error {
	if !c.bom {
		c.bom = true
		if _, err := io.WriteString(c.w, "\uFEFF"); err != nil {
			return err
		}
	}
	c.rec = c.rec[:0]
	for _, v := range row {
		c.rec = append(c.rec, CSVCell(v))
	}
	return c.cw.Write(c.rec)
}

// Flush writes out what is buffered and returns the first error of any Write or Flush.
func (c *CSVWriter) Flush() error {
	c.cw.Flush()
	return c.cw.Error()
}

// CSVCell returns v as a spreadsheet program will show it and never run it (CSV injection): a
// value starting with '=', '+', '-', '@', a tab or a carriage return gets a leading apostrophe,
// which spreadsheets take as "text follows". A plain decimal number ("-0.25", "-7": an
// optional minus, digits, an optional fraction), as the exports write numbers, is left as it
// is: a spreadsheet reads it as a number, never as a formula.
func CSVCell(v string) string {
	if v == "" || !strings.ContainsRune("=+-@\t\r", rune(v[0])) || plainNumber(v) {
		return v
	}
	return "'" + v
}

// plainNumber reports whether v is -digits[.digits].
func plainNumber(v string) bool {
	digits, frac, hasFrac := strings.Cut(strings.TrimPrefix(v, "-"), ".")
	return allDigits(digits) && (!hasFrac || allDigits(frac))
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// CSV writes a ZIP of one CSV file per category (<category>.csv), each with a header row,
// written by a CSVWriter; dates are YYYY-MM-DD and times RFC 3339. Call Close to finish the
// ZIP.
type CSV struct {
	zw     *zip.Writer
	cw     *CSVWriter
	cat    *skjold.Category
	rec    []string
	prefix string    // of the file names in the ZIP
	made   time.Time // the files' modification time
}

var _ skjold.ExportSink = (*CSV)(nil)

// NewCSV returns a CSV sink writing its ZIP to w.
func NewCSV(w io.Writer) *CSV { return &CSV{zw: zip.NewWriter(w), made: time.Now()} }

// Begin starts the category's file and writes its header row.
func (s *CSV) Begin(c *skjold.Category) error {
	if s.cat != nil {
		return errors.New("export: Begin before End")
	}
	f, err := createFile(s.zw, s.prefix+c.Name+".csv", s.made)
	if err != nil {
		return err
	}
	s.cat, s.cw = c, NewCSVWriter(f)
	return s.cw.Write(header(c))
}

// Row writes one row.
func (s *CSV) Row(r *skjold.ExportRow) error {
	if s.cat == nil {
		return errors.New("export: Row outside Begin and End")
	}
	s.rec = append(s.rec[:0], r.SubjectID, r.RecordID, text(nil, r.CreatedAt.UTC()))
	for i := range s.cat.Fields {
		f := &s.cat.Fields[i]
		s.rec = append(s.rec, text(f, r.Values[f.Name]))
	}
	return s.cw.Write(s.rec)
}

// End finishes the category's file.
func (s *CSV) End() error {
	if s.cat == nil {
		return errors.New("export: End without Begin")
	}
	s.cat = nil
	return s.cw.Flush()
}

// Close finishes the ZIP; it does not close the underlying writer.
func (s *CSV) Close() error { return s.zw.Close() }

// createFile adds a compressed file to the ZIP dated made, so that unzip shows when the
// export was made rather than 1980.
func createFile(zw *zip.Writer, name string, made time.Time) (io.Writer, error) {
	return zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: made})
}
