package skjold

import "context"

// ImportItem is one subject of an import, with its first records: the line it came from,
// and what became of it.
type ImportItem struct {
	Line    int // the subject's line in the file (1 is the header)
	Subject *Subject
	Records []*Record
	Err     error // why it was refused: an *Error naming the field and rule, never the value
	Skipped bool  // its ref was imported before (a resumed import)
}

// ImportService writes the subjects of an import [D6].
type ImportService interface {
	// ImportSubjects checks every item as the API's create path does (the subject category,
	// the records' categories, the input guard, the guardian rule) and sets its Err when it
	// is refused, or Skipped when a subject with its ref exists already. Unless check is
	// set, it then writes every good item in one write, each audited as subject.create and
	// record.create. It needs the write scope. Errors: EFORBIDDEN.
	ImportSubjects(ctx context.Context, items []*ImportItem, check bool) error

	// TuneForImport readies the database for a large write (a bigger page cache for the
	// writer, on SQLite) and returns the function that undoes it.
	TuneForImport(ctx context.Context) (restore func(), err error)

	// AuditImport appends the import's own audit event, tenant.import, with counts.
	AuditImport(ctx context.Context, fields []string) error
}
