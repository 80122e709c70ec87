// Package export writes a tenant's or a subject's data in the formats people can open: XLSX
// workbooks, CSV files in a ZIP and JSON [C1, C6, D6]. The sinks implement
// skjold.ExportSink and write as rows arrive, so a tenant export runs in constant memory;
// AccessPackage builds a subject's access or portability package.
package export

import (
	"strconv"
	"time"

	"github.com/skjold-project/skjold"
)

// Fixed columns that lead every sheet, CSV file and JSON row.
const (
	ColSubjectID = "subject_id"
	ColRecordID  = "record_id"
	ColCreatedAt = "created_at"
)

// header returns a category's column names: the fixed columns, then its fields in order.
func header(c *skjold.Category) []string {
	h := []string{ColSubjectID, ColRecordID, ColCreatedAt}
	for _, f := range c.Fields {
		h = append(h, f.Name)
	}
	return h
}

// text renders a typed value as text: dates as YYYY-MM-DD, times as RFC 3339 and numbers in
// their shortest exact form. A nil value is "".
func text(f *skjold.Field, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		if f != nil && f.Type == skjold.TypeDate {
			return x.Format(time.DateOnly)
		}
		return x.Format(time.RFC3339Nano)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case interface{ String() string }:
		return x.String()
	}
	return ""
}

// jsonValue renders a typed value for JSON: times as text, everything else as it is.
func jsonValue(f *skjold.Field, v any) any {
	if _, ok := v.(time.Time); ok {
		return text(f, v)
	}
	return v
}

// SubjectRow returns a subject's profile as an export row of the subject category.
func SubjectRow(def *skjold.Category, s *skjold.Subject) *skjold.ExportRow {
	values := map[string]any{}
	for k, v := range s.Values() {
		values[k] = v
	}
	return &skjold.ExportRow{SubjectID: s.ID, CreatedAt: s.CreatedAt, Values: skjold.ExportValues(def, values)}
}

// RecordRow returns a record as an export row of its category.
func RecordRow(c *skjold.Category, r *skjold.Record) *skjold.ExportRow {
	return &skjold.ExportRow{SubjectID: r.SubjectID, RecordID: r.ID, CreatedAt: r.CreatedAt, Values: skjold.ExportValues(c, r.Data)}
}
