package export

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/xuri/excelize/v2"
)

// booking is a category with a field of every type.
var booking = &skjold.Category{Name: "booking_with_a_very_long_category_name", LegalBasis: skjold.BasisContract,
	Purposes: []string{"billing"}, Retention: skjold.Retention{Period: "P5Y", From: "field:travel_date"},
	Fields: []skjold.Field{
		{Name: "destination", Type: skjold.TypeString},
		{Name: "travel_date", Type: skjold.TypeDate},
		{Name: "booked_at", Type: skjold.TypeDateTime},
		{Name: "price", Type: skjold.TypeNumber},
		{Name: "nights", Type: skjold.TypeInteger},
		{Name: "insured", Type: skjold.TypeBoolean},
		{Name: "email", Type: skjold.TypeEmail},
		{Name: "phone", Type: skjold.TypePhone},
	}}

var profile = &skjold.Category{Name: skjold.SubjectCategory, LegalBasis: skjold.BasisContract, Purposes: []string{"service"},
	Retention: skjold.Retention{Period: "P30D", From: skjold.RetentionFromRelationship},
	Fields: []skjold.Field{{Name: "ref", Type: skjold.TypeString}, {Name: "email", Type: skjold.TypeEmail},
		{Name: "phone", Type: skjold.TypePhone}, {Name: "name", Type: skjold.TypeString}, {Name: "birth_date", Type: skjold.TypeDate}}}

var created = time.Date(2025, 3, 1, 9, 30, 15, 0, time.UTC)

// rows are the booking rows every sink test writes: unicode, a formula-looking text,
// negative and fractional numbers, false, missing values.
var rows = []*skjold.ExportRow{
	{SubjectID: "s1", RecordID: "r1", CreatedAt: created, Values: map[string]any{
		"destination": "Tromsø – Øst 北京 🚀", "travel_date": time.Date(2025, 7, 14, 0, 0, 0, 0, time.UTC),
		"booked_at": time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC), "price": 1234.5, "nights": int64(7), "insured": true,
		"email": "ana@example.com", "phone": "+4712345678"}},
	{SubjectID: "s2", RecordID: "r2", CreatedAt: created.Add(time.Hour), Values: map[string]any{
		"destination": `=HYPERLINK("http://evil.example","x")`, "travel_date": time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC),
		"price": -0.25, "nights": int64(0), "insured": false, "phone": "@SUM(A1:A2)"}},
	{SubjectID: "s3", RecordID: "r3", CreatedAt: created.Add(2 * time.Hour), Values: map[string]any{
		"destination": "+47 -minus", "email": "-x@example.com"}},
}

func writeXLSX(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	x := NewXLSX(&buf)
	tmp := x.tmp
	feedRows(t, x)
	if err := x.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("the temporary directory %s is still there after Close (%v)", tmp, err)
	}
	return buf.Bytes()
}

func feedRows(t *testing.T, s skjold.ExportSink) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Begin(profile))
	must(s.Row(&skjold.ExportRow{SubjectID: "s1", CreatedAt: created, Values: map[string]any{"name": "Åse Nordmann",
		"birth_date": time.Date(1980, 1, 2, 0, 0, 0, 0, time.UTC)}}))
	must(s.End())
	must(s.Begin(booking))
	for _, r := range rows {
		must(s.Row(r))
	}
	must(s.End())
}

func TestXLSXReadsBackEveryValue(t *testing.T) {
	f, err := excelize.OpenReader(bytes.NewReader(writeXLSX(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sheet := booking.Name[:MaxSheetName]
	if got := f.GetSheetList(); len(got) != 2 || got[0] != "subject" || got[1] != sheet {
		t.Fatalf("sheets = %q, want [subject %s]", got, sheet)
	}
	got, err := f.GetRows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Join(header(booking), ","); strings.Join(got[0], ",") != want {
		t.Errorf("header = %q, want %q", got[0], want)
	}
	if len(got) != 1+len(rows) {
		t.Fatalf("%d rows, want %d", len(got), 1+len(rows))
	}
	for i, r := range rows {
		checkXLSXRow(t, f, sheet, i+2, r)
	}
	checkXLSXRow(t, f, "subject", 2, &skjold.ExportRow{SubjectID: "s1", CreatedAt: created, Values: map[string]any{
		"name": "Åse Nordmann", "birth_date": time.Date(1980, 1, 2, 0, 0, 0, 0, time.UTC)}})
}

// checkXLSXRow checks every cell of one row: its type, its raw value and, for dates, the
// number format that shows it as a date.
func checkXLSXRow(t *testing.T, f *excelize.File, sheet string, row int, r *skjold.ExportRow) {
	t.Helper()
	c := booking
	if sheet == "subject" {
		c = profile
	}
	checkCell(t, f, sheet, 1, row, skjold.TypeString, r.SubjectID)
	if r.RecordID != "" {
		checkCell(t, f, sheet, 2, row, skjold.TypeString, r.RecordID)
	}
	checkCell(t, f, sheet, 3, row, skjold.TypeDateTime, r.CreatedAt)
	for i, fd := range c.Fields {
		checkCell(t, f, sheet, 4+i, row, fd.Type, r.Values[fd.Name])
	}
}

func checkCell(t *testing.T, f *excelize.File, sheet string, col, row int, typ string, want any) {
	t.Helper()
	cell, _ := excelize.CoordinatesToCellName(col, row)
	raw, err := f.GetCellValue(sheet, cell, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := f.GetCellType(sheet, cell)
	formula, _ := f.GetCellFormula(sheet, cell)
	if formula != "" {
		t.Errorf("%s!%s holds the formula %q", sheet, cell, formula)
	}
	switch w := want.(type) {
	case nil:
		if raw != "" {
			t.Errorf("%s!%s = %q, want empty", sheet, cell, raw)
		}
	case string:
		if ct != excelize.CellTypeInlineString || raw != w {
			t.Errorf("%s!%s = %q (type %v), want the string %q", sheet, cell, raw, ct, w)
		}
	case float64, int64:
		n, err := strconv.ParseFloat(raw, 64)
		wf, _ := strconv.ParseFloat(text(nil, w), 64)
		if ct != excelize.CellTypeUnset || err != nil || n != wf {
			t.Errorf("%s!%s = %q (type %v), want the number %v", sheet, cell, raw, ct, w)
		}
	case bool:
		if ct != excelize.CellTypeBool || raw != map[bool]string{true: "1", false: "0"}[w] {
			t.Errorf("%s!%s = %q (type %v), want the boolean %v", sheet, cell, raw, ct, w)
		}
	case time.Time:
		checkDate(t, f, sheet, cell, raw, typ, w)
	default:
		t.Fatalf("no check for %T", want)
	}
}

func checkDate(t *testing.T, f *excelize.File, sheet, cell, raw, typ string, want time.Time) {
	t.Helper()
	serial, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		t.Fatalf("%s!%s = %q, want a date serial number", sheet, cell, raw)
	}
	got, err := excelize.ExcelDateToTime(serial, false)
	if err != nil || !got.Round(time.Millisecond).Equal(want) {
		t.Errorf("%s!%s = %v, want %v", sheet, cell, got, want)
	}
	id, _ := f.GetCellStyle(sheet, cell)
	style, err := f.GetStyle(id)
	wantFmt := DateTimeFormat
	if typ == skjold.TypeDate {
		wantFmt = DateFormat
	}
	if err != nil || style.CustomNumFmt == nil || *style.CustomNumFmt != wantFmt {
		t.Errorf("%s!%s has style %+v, want the number format %q", sheet, cell, style, wantFmt)
	}
	shown, _ := f.GetCellValue(sheet, cell)
	if wantShown := want.Format(map[string]string{DateFormat: "2006-01-02", DateTimeFormat: "2006-01-02 15:04:05"}[wantFmt]); shown != wantShown {
		t.Errorf("%s!%s shows %q, want %q", sheet, cell, shown, wantShown)
	}
}

func TestXLSXSheetNames(t *testing.T) {
	x := NewXLSX(io.Discard)
	defer x.Abort()
	long := strings.Repeat("a", 40)
	for _, tc := range []struct{ name, want string }{
		{"booking", "booking"},
		{long, long[:31]},
		{long + "b", long[:29] + "~2"},
	} {
		if got := x.sheetName(tc.name); got != tc.want {
			t.Errorf("sheetName(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestXLSXAbortRemovesTempFiles(t *testing.T) {
	x := NewXLSX(io.Discard)
	tmp := x.tmp
	if fi, err := os.Stat(tmp); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("temporary directory %s: %v, mode %v; want a private directory", tmp, err, fi.Mode())
	}
	if err := x.Begin(booking); err != nil {
		t.Fatal(err)
	}
	if err := x.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("the temporary directory is still there after Abort")
	}
	if err := x.Row(rows[0]); err == nil {
		t.Error("Row after Abort succeeded")
	}
}

func TestCSVRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	s := NewCSV(&buf)
	feedRows(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files := unzip(t, buf.Bytes())
	want := [][]string{header(booking),
		{"s1", "r1", "2025-03-01T09:30:15Z", "Tromsø – Øst 北京 🚀", "2025-07-14", "2025-02-03T04:05:06Z", "1234.5", "7", "true", "ana@example.com", "'+4712345678"},
		{"s2", "r2", "2025-03-01T10:30:15Z", `'=HYPERLINK("http://evil.example","x")`, "1999-12-31", "", "-0.25", "0", "false", "", "'@SUM(A1:A2)"},
		{"s3", "r3", "2025-03-01T11:30:15Z", "'+47 -minus", "", "", "", "", "", "'-x@example.com", ""},
	}
	checkCSV(t, files[booking.Name+".csv"], want)
	checkCSV(t, files["subject.csv"], [][]string{header(profile),
		{"s1", "", "2025-03-01T09:30:15Z", "", "", "", "Åse Nordmann", "1980-01-02"}})
}

// checkCSV checks a CSV file starts with a UTF-8 byte order mark and then holds want.
func checkCSV(t *testing.T, data []byte, want [][]string) {
	t.Helper()
	data, ok := bytes.CutPrefix(data, []byte("\uFEFF"))
	if !ok {
		t.Error("the CSV file does not start with a UTF-8 byte order mark")
	}
	got, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d CSV rows, want %d", len(got), len(want))
	}
	for i := range want {
		if strings.Join(got[i], "\x00") != strings.Join(want[i], "\x00") {
			t.Errorf("CSV row %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func unzip(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func TestJSONRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	s := NewJSON(&buf)
	feedRows(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Categories []struct {
			Name   string
			Fields []skjold.Field
			Rows   []map[string]any
		}
	}
	dec := json.NewDecoder(&buf)
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("the document does not decode: %v", err)
	}
	if len(doc.Categories) != 2 || doc.Categories[1].Name != booking.Name || len(doc.Categories[1].Fields) != len(booking.Fields) {
		t.Fatalf("categories = %+v", doc.Categories)
	}
	got := doc.Categories[1].Rows
	if len(got) != len(rows) {
		t.Fatalf("%d rows, want %d", len(got), len(rows))
	}
	for i, r := range rows {
		data := got[i]["data"].(map[string]any)
		if got[i]["subject_id"] != r.SubjectID || got[i]["record_id"] != r.RecordID || got[i]["created_at"] != text(nil, r.CreatedAt) {
			t.Errorf("row %d = %v", i, got[i])
		}
		if len(data) != len(r.Values) {
			t.Errorf("row %d has %d values, want %d", i, len(data), len(r.Values))
		}
		for name, v := range r.Values {
			if g := text(nil, data[name]); g != text(booking.Field(name), v) {
				t.Errorf("row %d %s = %v, want %v", i, name, data[name], text(booking.Field(name), v))
			}
		}
	}
}

func TestJSONEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := NewJSON(&buf).Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(buf.String()); got != `{"categories":[]}` {
		t.Errorf("empty export = %s", got)
	}
}

func TestSinksRefuseMisuse(t *testing.T) {
	for name, s := range map[string]skjold.ExportSink{"xlsx": NewXLSX(io.Discard), "csv": NewCSV(io.Discard), "json": NewJSON(io.Discard)} {
		if err := s.Row(rows[0]); err == nil {
			t.Errorf("%s: Row before Begin succeeded", name)
		}
		if err := s.End(); err == nil {
			t.Errorf("%s: End before Begin succeeded", name)
		}
		if x, ok := s.(*XLSX); ok {
			x.Abort()
		}
	}
}
