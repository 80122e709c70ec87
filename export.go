package skjold

import (
	"context"
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
	// the caller. Errors: EFORBIDDEN, ENOTFOUND (approval), ECONFLICT (approval used).
	ExportTenant(ctx context.Context, approvalID string, sink ExportSink) error
}
