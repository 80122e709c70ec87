package export

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/xuri/excelize/v2"
)

func TestCSVCell(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"Tromsø", "Tromsø"},
		{"=1+1", "'=1+1"},
		{"+47 912 34 567", "'+47 912 34 567"},
		{"-1+1", "'-1+1"},
		{"@SUM(A1:A2)", "'@SUM(A1:A2)"},
		{"\t=1+1", "'\t=1+1"},
		{"\r=1+1", "'\r=1+1"},
		{"-0.25", "-0.25"},
		{"-7", "-7"},
		{"-", "'-"},
		{"-.5", "'-.5"},
		{"-1.", "'-1."},
		{"-1e5", "'-1e5"},
		{"1+1", "1+1"},
		{" =1+1", " =1+1"},
	} {
		if got := CSVCell(c.in); got != c.want {
			t.Errorf("CSVCell(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// formulaRows are booking rows whose texts start with everything a spreadsheet may run.
var formulaRows = []*skjold.ExportRow{
	{SubjectID: "s1", RecordID: "r1", CreatedAt: created, Values: map[string]any{
		"destination": "=1+1", "email": "@SUM(1;1)", "phone": "+47 912 34 567", "price": -0.25}},
	{SubjectID: "s2", RecordID: "r2", CreatedAt: created, Values: map[string]any{
		"destination": `=HYPERLINK("http://evil.example";"x")`, "email": "-1+1", "phone": "\t=2+2"}},
	{SubjectID: "s3", RecordID: "r3", CreatedAt: created, Values: map[string]any{
		"destination": "Zażółć gęślą jaźń, Tromsø, Ærøskøbing", "email": "\r=3+3", "nights": int64(-7)}},
}

// TestCSVOpensAsDataInASpreadsheet opens the CSV files of a tenant export and of an access
// package with LibreOffice, as a person would, and checks that no cell became a formula, that
// the byte order mark is taken as such and that Polish and Norwegian letters arrive intact.
func TestCSVOpensAsDataInASpreadsheet(t *testing.T) {
	soffice := spreadsheetProgram(t)
	var export bytes.Buffer
	s := NewCSV(&export)
	if err := s.Begin(booking); err != nil {
		t.Fatal(err)
	}
	for _, r := range formulaRows {
		if err := s.Row(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := errorsOf(s.End(), s.Close()); err != nil {
		t.Fatal(err)
	}
	d := subjectData(nil)
	d.Subject.Name = "=HYPERLINK(\"http://evil.example\";\"Åse\")"
	d.Records[booking.Name][0].Data["destination"] = "+1+1 Łódź"
	var pkg bytes.Buffer
	if err := AccessPackage(&pkg, d); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string][]byte{"export.csv": unzip(t, export.Bytes())[booking.Name+".csv"],
		"package-subject.csv": unzip(t, pkg.Bytes())["csv/subject.csv"],
		"package-booking.csv": unzip(t, pkg.Bytes())["csv/"+booking.Name+".csv"]}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sheets := convertToXLSX(t, soffice, dir, "export.csv", "package-subject.csv", "package-booking.csv")
	for name, f := range sheets {
		sheet := f.GetSheetName(0)
		rows, err := f.GetRows(sheet)
		if err != nil || len(rows) < 2 {
			t.Fatalf("%s: %d rows, %v", name, len(rows), err)
		}
		if rows[0][0] != ColSubjectID {
			t.Errorf("%s: the first header cell reads %q: the byte order mark was not taken as one", name, rows[0][0])
		}
		for r, row := range rows {
			for c := range row {
				cell, _ := excelize.CoordinatesToCellName(c+1, r+1)
				if formula, _ := f.GetCellFormula(sheet, cell); formula != "" {
					t.Errorf("%s!%s became the formula %q", name, cell, formula)
				}
			}
		}
	}
	if got := sheets["export.csv"]; cellValue(t, got, "D4") != "Zażółć gęślą jaźń, Tromsø, Ærøskøbing" {
		t.Errorf("export.csv!D4 = %q: letters were lost", cellValue(t, got, "D4"))
	}
	if got := cellValue(t, sheets["package-booking.csv"], "D2"); got != "'+1+1 Łódź" {
		t.Errorf("package-booking.csv!D2 = %q", got)
	}
}

func errorsOf(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func cellValue(t *testing.T, f *excelize.File, cell string) string {
	t.Helper()
	v, err := f.GetCellValue(f.GetSheetName(0), cell)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// spreadsheetProgram returns LibreOffice's soffice, or skips the test where none is installed
// (.ci/run installs one).
func spreadsheetProgram(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"soffice", "libreoffice"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no spreadsheet program (soffice) installed")
	return ""
}

// convertToXLSX has soffice read the CSV files in dir as a person opening them would (comma
// separated, double quotes, UTF-8) and save each as a workbook, and opens the workbooks.
func convertToXLSX(t *testing.T, soffice, dir string, names ...string) map[string]*excelize.File {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := filepath.Join(dir, "out")
	args := []string{"-env:UserInstallation=file://" + filepath.Join(dir, "profile"), "--headless", "--norestore",
		"--infilter=CSV:44,34,76", "--convert-to", "xlsx", "--outdir", out}
	cmd := exec.CommandContext(ctx, soffice, append(args, names...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("soffice: %v\n%s", err, b)
	}
	sheets := map[string]*excelize.File{}
	for _, name := range names {
		f, err := excelize.OpenFile(filepath.Join(out, strings.TrimSuffix(name, ".csv")+".xlsx"))
		if err != nil {
			t.Fatalf("%s was not converted: %v", name, err)
		}
		t.Cleanup(func() { f.Close() })
		sheets[name] = f
	}
	return sheets
}
