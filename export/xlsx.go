package export

import (
	"errors"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/xuri/excelize/v2"
)

// MaxSheetName is the longest sheet name Excel accepts.
const MaxSheetName = 31

// Number formats of date and date-time cells.
const (
	DateFormat     = "yyyy-mm-dd"
	DateTimeFormat = "yyyy-mm-dd hh:mm:ss"
)

// XLSX writes a workbook with one sheet per category, named after it (cut to 31
// characters), a header row and typed cells: numbers as numbers, booleans as booleans,
// dates and times as Excel dates formatted DateFormat and DateTimeFormat (times in UTC),
// and text as inline strings, never as formulas, so "=HYPERLINK(…)" stays text.
//
// Rows go through excelize's stream writer, which keeps at most a chunk of each sheet in
// memory and spills the rest to temporary files. Those files hold the export's personal
// data in clear for as long as the export runs, so they go to a private directory (0700)
// that Close and Abort remove.
type XLSX struct {
	w      io.Writer
	tmp    string
	f      *excelize.File
	sw     *excelize.StreamWriter
	cat    *skjold.Category
	row    int
	sheets map[string]bool
	date   int // style ids
	stamp  int
	cells  []any
	err    error
}

var _ skjold.ExportSink = (*XLSX)(nil)

// NewXLSX returns an XLSX sink that writes its workbook to w on Close.
func NewXLSX(w io.Writer) *XLSX {
	x := &XLSX{w: w, sheets: map[string]bool{}}
	x.tmp, x.err = os.MkdirTemp("", "skjold-export-")
	if x.err != nil {
		return x
	}
	x.f = excelize.NewFile(excelize.Options{TmpDir: x.tmp})
	if x.date, x.err = x.f.NewStyle(&excelize.Style{CustomNumFmt: ptr(DateFormat)}); x.err == nil {
		x.stamp, x.err = x.f.NewStyle(&excelize.Style{CustomNumFmt: ptr(DateTimeFormat)})
	}
	return x
}

func ptr[T any](v T) *T { return &v }

// sheetName returns the category's sheet name: its name cut to 31 characters, with a
// number added when the cut name is taken.
func (x *XLSX) sheetName(name string) string {
	cut := name[:min(len(name), MaxSheetName)]
	for i := 2; x.sheets[cut]; i++ {
		suffix := "~" + strconv.Itoa(i)
		cut = name[:min(len(name), MaxSheetName-len(suffix))] + suffix
	}
	x.sheets[cut] = true
	return cut
}

// Begin starts the category's sheet and writes its header row.
func (x *XLSX) Begin(c *skjold.Category) error {
	if x.err != nil {
		return x.err
	}
	if x.cat != nil {
		return errors.New("export: Begin before End")
	}
	name := x.sheetName(c.Name)
	if len(x.sheets) == 1 {
		x.err = x.f.SetSheetName("Sheet1", name) // a new workbook's only sheet
	} else {
		_, x.err = x.f.NewSheet(name)
	}
	if x.err == nil {
		x.sw, x.err = x.f.NewStreamWriter(name)
	}
	if x.err != nil {
		return x.err
	}
	x.cat, x.row = c, 1
	h := header(c)
	x.cells = x.cells[:0]
	for _, col := range h {
		x.cells = append(x.cells, col)
	}
	return x.setRow()
}

func (x *XLSX) setRow() error {
	cell, err := excelize.CoordinatesToCellName(1, x.row)
	if err == nil {
		err = x.sw.SetRow(cell, x.cells)
	}
	x.row++
	if err != nil {
		x.err = err
	}
	return err
}

// Row writes one row of typed cells.
func (x *XLSX) Row(r *skjold.ExportRow) error {
	if x.err != nil {
		return x.err
	}
	if x.cat == nil {
		return errors.New("export: Row outside Begin and End")
	}
	var rec any
	if r.RecordID != "" {
		rec = r.RecordID
	}
	x.cells = append(x.cells[:0], r.SubjectID, rec, x.cell(skjold.TypeDateTime, r.CreatedAt))
	for i := range x.cat.Fields {
		f := &x.cat.Fields[i]
		x.cells = append(x.cells, x.cell(f.Type, r.Values[f.Name]))
	}
	return x.setRow()
}

// cell returns what the stream writer needs for a typed value of a field type.
func (x *XLSX) cell(typ string, v any) any {
	switch t := v.(type) {
	case time.Time:
		style := x.stamp
		if typ == skjold.TypeDate {
			style = x.date
		}
		return excelize.Cell{StyleID: style, Value: t.UTC()}
	case string, float64, int64, bool, nil:
		return t
	case interface{ String() string }:
		return t.String()
	}
	return nil
}

// End finishes the category's sheet.
func (x *XLSX) End() error {
	if x.err != nil {
		return x.err
	}
	if x.cat == nil {
		return errors.New("export: End without Begin")
	}
	x.cat, x.err = nil, x.sw.Flush()
	return x.err
}

// Close writes the workbook to w and removes the temporary files. It does not close w.
func (x *XLSX) Close() error {
	err := x.err
	if err == nil && x.cat != nil {
		err = errors.New("export: Close before End")
	}
	if err == nil {
		err = x.f.Write(x.w)
	}
	return errors.Join(err, x.Abort())
}

// Abort removes the temporary files without writing the workbook.
func (x *XLSX) Abort() error {
	var err error
	if x.f != nil {
		err = x.f.Close()
		x.f = nil
	}
	if x.tmp != "" {
		err = errors.Join(err, os.RemoveAll(x.tmp))
		x.tmp = ""
	}
	if x.err == nil {
		x.err = errors.New("export: the workbook is closed")
	}
	return err
}
