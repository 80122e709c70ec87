package export

import (
	"archive/zip"
	"encoding/csv"
	"errors"
	"io"
	"time"

	"github.com/skjold-project/skjold"
)

// CSV writes a ZIP of one UTF-8 CSV file per category (<category>.csv), each with a header
// row; dates are YYYY-MM-DD and times RFC 3339. Values are written exactly as stored, so a
// text that looks like a formula stays that text: open the files as data, not by
// double-clicking into a spreadsheet. Call Close to finish the ZIP.
type CSV struct {
	zw     *zip.Writer
	cw     *csv.Writer
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
	s.cat, s.cw = c, csv.NewWriter(f)
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
	s.cw.Flush()
	s.cat = nil
	return s.cw.Error()
}

// Close finishes the ZIP; it does not close the underlying writer.
func (s *CSV) Close() error { return s.zw.Close() }

// createFile adds a compressed file to the ZIP dated made, so that unzip shows when the
// export was made rather than 1980.
func createFile(zw *zip.Writer, name string, made time.Time) (io.Writer, error) {
	return zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: made})
}
