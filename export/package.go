package export

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"io"

	"github.com/skjold-project/skjold"
)

var _ skjold.Packager = AccessPackage

// packageData is data.json: everything held about the subject.
type packageData struct {
	Generated string                      `json:"generated"`
	Subject   *skjold.Subject             `json:"subject"`
	Records   map[string][]*skjold.Record `json:"records"`
	Consents  []*skjold.Consent           `json:"consents"`
	Holds     []*skjold.Hold              `json:"holds"`
	Requests  []*skjold.Request           `json:"requests"`
	Purposes  []*skjold.Purpose           `json:"purposes"`
	Notice    *skjold.PrivacyNotice       `json:"privacy_notice,omitempty"`
}

// packageSchema is schema.json: what each category and purpose means.
type packageSchema struct {
	Categories []*skjold.Category `json:"categories"`
	Purposes   []*skjold.Purpose  `json:"purposes"`
}

// AccessPackage writes a subject's access or portability package [C1, C6] to w: a ZIP with
// data.json (everything held about the subject), schema.json (each category's fields,
// types, purposes, legal basis and retention), one CSV per category, data.xlsx (a sheet
// per category) and summary.txt (a readable account of the processing and the subject's
// rights). The subject category comes first; d.Categories names the others.
func AccessPackage(w io.Writer, d *skjold.SubjectData) error {
	if d == nil || d.Subject == nil {
		return errors.New("export: access package without a subject")
	}
	zw := zip.NewWriter(w)
	steps := []struct {
		name  string
		write func(io.Writer, *skjold.SubjectData) error
	}{
		{"data.json", writeData},
		{"schema.json", writeSchema},
		{"data.xlsx", writeWorkbook},
		{"summary.txt", writeSummary},
	}
	for _, s := range steps {
		f, err := createFile(zw, s.name, d.Generated)
		if err != nil {
			return err
		}
		if err := s.write(f, d); err != nil {
			return err
		}
	}
	if err := writeCSVs(zw, d); err != nil {
		return err
	}
	return zw.Close()
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeData(w io.Writer, d *skjold.SubjectData) error {
	recs := d.Records
	if recs == nil {
		recs = map[string][]*skjold.Record{}
	}
	return writeJSON(w, packageData{Generated: d.Generated.UTC().Format(timeFormat), Subject: d.Subject, Records: recs,
		Consents: orEmpty(d.Consents), Holds: orEmpty(d.Holds), Requests: orEmpty(d.Requests),
		Purposes: orEmpty(d.Purposes), Notice: d.Notice})
}

func writeSchema(w io.Writer, d *skjold.SubjectData) error {
	return writeJSON(w, packageSchema{Categories: orEmpty(d.Categories), Purposes: orEmpty(d.Purposes)})
}

// feed gives every category's rows to sink: the profile for the subject category, the
// records for the others.
func feed(sink skjold.ExportSink, d *skjold.SubjectData) error {
	for _, c := range d.Categories {
		if err := sink.Begin(c); err != nil {
			return err
		}
		if c.Name == skjold.SubjectCategory {
			if err := sink.Row(SubjectRow(c, d.Subject)); err != nil {
				return err
			}
		}
		for _, r := range d.Records[c.Name] {
			if c.Name == skjold.SubjectCategory {
				break
			}
			if err := sink.Row(RecordRow(c, r)); err != nil {
				return err
			}
		}
		if err := sink.End(); err != nil {
			return err
		}
	}
	return nil
}

func writeWorkbook(w io.Writer, d *skjold.SubjectData) error {
	x := NewXLSX(w)
	if err := feed(x, d); err != nil {
		return errors.Join(err, x.Abort())
	}
	return x.Close()
}

// writeCSVs adds one CSV per category to the package, under csv/.
func writeCSVs(zw *zip.Writer, d *skjold.SubjectData) error {
	s := &CSV{zw: zw, prefix: "csv/", made: d.Generated}
	return feed(s, d)
}
