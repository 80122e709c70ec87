package skjold

import (
	"context"
	"encoding/json"
	"io"
	"time"
)

// Export formats.
const (
	FormatXLSX = "xlsx"
	FormatCSV  = "csv"
	FormatJSON = "json"
)

// ExportRow is one row of an export: a subject's profile (RecordID "") or one record, with
// typed values (string, float64, int64, bool, time.Time for dates and times).
type ExportRow struct {
	SubjectID string
	RecordID  string
	CreatedAt time.Time
	Values    map[string]any
}

// ExportSink receives data one category at a time: Begin, its rows, End; then the next
// category. Implementations write XLSX, CSV or JSON as they go, in constant memory.
type ExportSink interface {
	Begin(c *Category) error
	Row(r *ExportRow) error
	End() error
}

// SubjectData is everything a tenant holds about one subject, for its access or
// portability package [C1, C6].
type SubjectData struct {
	Subject    *Subject
	Categories []*Category          // the categories the records below belong to, subject first
	Records    map[string][]*Record // by category name
	Consents   []*Consent
	Purposes   []*Purpose
	Holds      []*Hold
	Requests   []*Request
	Notice     *PrivacyNotice
	Generated  time.Time
}

// Packager writes a subject's access package: a ZIP with the data as JSON and its schema,
// a CSV per category, an XLSX workbook and a readable summary.
type Packager func(w io.Writer, d *SubjectData) error

// ExportService streams a tenant's data out [D6].
type ExportService interface {
	// ExportTenant feeds every subject and record of the caller's tenant to sink, category
	// by category, and audits the export. It needs the export scope and, where the tenant
	// puts bulk_export under four eyes, an approved, unused approval (approvalID) filed by
	// the caller. Without four eyes, every subject exported counts against the caller's
	// daily read budget; an approved export is not charged, the approval is its limit.
	// Errors: EFORBIDDEN, ENOTFOUND (approval), ECONFLICT (approval used), EREADBUDGET.
	ExportTenant(ctx context.Context, approvalID string, sink ExportSink) error
}

// ExportValues turns a record's or profile's stored values into the typed values of an
// ExportRow, following the category: integers become int64, numbers float64, dates and
// times time.Time (dates at midnight UTC), booleans bool, everything else string. A value
// that does not fit its field's type (a field whose type changed) is kept as it is.
func ExportValues(c *Category, data map[string]any) map[string]any {
	out := make(map[string]any, len(data))
	for name, v := range data {
		out[name] = exportValue(c.Field(name), v)
	}
	return out
}

func exportValue(f *Field, v any) any {
	if f == nil {
		return v
	}
	switch x := v.(type) {
	case json.Number:
		if f.Type == TypeInteger {
			if n, err := x.Int64(); err == nil {
				return n
			}
		}
		if n, err := x.Float64(); err == nil {
			return n
		}
	case string:
		switch f.Type {
		case TypeDate:
			if t, err := time.Parse(time.DateOnly, x); err == nil {
				return t
			}
		case TypeDateTime:
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return t
			}
		}
	case float64:
		if f.Type == TypeInteger && x == float64(int64(x)) {
			return int64(x)
		}
	}
	return v
}
