// Package imports brings existing data into a tenant: CSV, a ZIP of CSV files or an XLSX
// workbook, in the layout the export writes or any other through a mapping [D6]. Every row
// is checked by the same rules as the API's create path (skjold.ImportService), every bad
// row is reported by line, field and rule (never by value), and the good ones are written in
// batches, or none of them when AllOrNothing is set. A subject whose ref was imported before
// is skipped, so an interrupted import is resumed by running it again.
package imports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/xuri/excelize/v2"
)

// DefaultBatch is how many subjects one write stores.
const DefaultBatch = 500

// Fixed columns of the export layout.
const (
	colSubjectID = "subject_id"
	colRecordID  = "record_id"
	colCreatedAt = "created_at"
)

// Mapping maps a column name to a subject field ("email") or a category's field
// ("booking.plan"); "-" leaves the column out. With a mapping, the file's first table is
// read as one subject a row, with at most one record a category.
type Mapping map[string]string

// ParseMapping reads a mapping: a JSON object of column names to targets.
func ParseMapping(data []byte) (Mapping, error) {
	var m Mapping
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return nil, skjold.FieldError("mapping", "format", "the mapping must be a JSON object of column names to fields (\"email\" or \"category.field\")")
	}
	for col, target := range m {
		if target == "" || strings.Count(target, ".") > 1 {
			return nil, skjold.FieldError("mapping", "target", "the mapping of column %q must name a field (\"email\") or a category's field (\"category.field\"), or be \"-\"", col)
		}
	}
	return m, nil
}

// Options control an import.
type Options struct {
	Format       string  // FormatCSV, FormatZIP or FormatXLSX; "" detects it
	Mapping      Mapping // nil: the export layout
	AllOrNothing bool    // write nothing when any row is refused
	Batch        int     // subjects a write; 0 is DefaultBatch
	// Progress, if set, is told how many subjects were handled out of how many.
	Progress func(done, total int)
}

// Problem is one refused row: where it is, which field broke which rule, and the rule's
// message, which never holds the value.
type Problem struct {
	Table   string `json:"table,omitempty"`
	Line    int    `json:"line"`
	Field   string `json:"field,omitempty"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// Report says what an import did.
type Report struct {
	Subjects int       `json:"subjects"` // subjects in the file
	Records  int       `json:"records"`  // records in the file
	Imported int       `json:"imported"` // subjects written now
	Skipped  int       `json:"skipped"`  // subjects imported before (their ref exists)
	Refused  int       `json:"refused"`  // subjects refused, with their records
	Problems []Problem `json:"problems"`
}

// Categories finds a category by name.
type Categories interface {
	FindCategory(ctx context.Context, name string) (*skjold.Category, error)
}

// origin is where a record came from.
type origin struct {
	table string
	line  int
}

// item is one subject to import with where its parts came from.
type item struct {
	skjold.ImportItem
	table   string
	origins []origin
	bad     []Problem // found while reading
}

// Run imports data into the caller's tenant. An error is returned only for a file that
// cannot be read at all, or a failure; refused rows are in the report. The import is
// audited as one tenant.import event with the counts, besides each subject's own events.
func Run(ctx context.Context, svc skjold.ImportService, cats Categories, data []byte, opt Options) (*Report, error) {
	if opt.Format == "" {
		opt.Format = Detect(data)
	}
	if opt.Batch <= 0 {
		opt.Batch = DefaultBatch
	}
	tables, err := readTables(data, opt.Format)
	if err != nil {
		return nil, err
	}
	r := &reader{ctx: ctx, cats: cats, known: map[string]*skjold.Category{}}
	var items []*item
	if opt.Mapping != nil {
		items, err = r.mapped(tables, opt.Mapping)
	} else {
		items, err = r.exported(tables)
	}
	if err != nil {
		return nil, err
	}
	rep := &Report{Subjects: len(items), Problems: []Problem{}}
	for _, it := range items {
		rep.Records += len(it.Records)
	}
	restore, err := svc.TuneForImport(ctx)
	if err != nil {
		return nil, err
	}
	defer restore()
	run := func(check bool, progress func(done, total int)) error {
		for start := 0; start < len(items); start += opt.Batch {
			batch := items[start:min(start+opt.Batch, len(items))]
			var good []*skjold.ImportItem
			for _, it := range batch {
				if len(it.bad) == 0 {
					good = append(good, &it.ImportItem)
				}
			}
			if len(good) > 0 {
				if err := svc.ImportSubjects(ctx, good, check); err != nil {
					return err
				}
			}
			if progress != nil {
				progress(start+len(batch), len(items))
			}
		}
		return nil
	}
	if opt.AllOrNothing {
		if err := run(true, nil); err != nil {
			return nil, err
		}
		if refused(items) == 0 {
			if err := run(false, opt.Progress); err != nil {
				return nil, err
			}
		} else {
			for _, it := range items {
				it.Skipped = false // nothing was written: nothing counts as done
			}
		}
	} else if err := run(false, opt.Progress); err != nil {
		return nil, err
	}
	none := opt.AllOrNothing && refused(items) > 0 // nothing was written
	for _, it := range items {
		switch {
		case len(it.bad) > 0 || it.Err != nil:
			rep.Refused++
			rep.Problems = append(rep.Problems, it.problems()...)
		case it.Skipped:
			rep.Skipped++
		case !none:
			rep.Imported++
		}
	}
	sort.SliceStable(rep.Problems, func(i, j int) bool {
		a, b := rep.Problems[i], rep.Problems[j]
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		return a.Line < b.Line
	})
	fields := []string{"format:" + opt.Format, fmt.Sprintf("subjects:%d", rep.Subjects), fmt.Sprintf("records:%d", rep.Records),
		fmt.Sprintf("imported:%d", rep.Imported), fmt.Sprintf("skipped:%d", rep.Skipped), fmt.Sprintf("refused:%d", rep.Refused)}
	if opt.AllOrNothing {
		fields = append(fields, "all_or_nothing")
	}
	if err := svc.AuditImport(ctx, fields); err != nil {
		return nil, err
	}
	return rep, nil
}

func refused(items []*item) int {
	n := 0
	for _, it := range items {
		if len(it.bad) > 0 || it.Err != nil {
			n++
		}
	}
	return n
}

var recordField = regexp.MustCompile(`^records\[(\d+)\](?:\.(?:data\.)?(.*))?$`)

// problems turns the item's refusal into problems placed at the line of the part that broke
// the rule: the subject's line, or its record's.
func (it *item) problems() []Problem {
	if len(it.bad) > 0 {
		return it.bad
	}
	var e *skjold.Error
	if !errors.As(it.Err, &e) {
		return []Problem{{Table: it.table, Line: it.Line, Rule: "invalid", Message: "the row was refused"}}
	}
	all := e.Errors
	if len(all) == 0 {
		all = []*skjold.Error{e}
	}
	var out []Problem
	for _, fe := range all {
		p := Problem{Table: it.table, Line: it.Line, Field: fe.Field, Rule: fe.Rule, Message: fe.Message}
		if m := recordField.FindStringSubmatch(fe.Field); m != nil {
			if i, err := strconv.Atoi(m[1]); err == nil && i < len(it.origins) {
				p.Table, p.Line, p.Field = it.origins[i].table, it.origins[i].line, m[2]
				p.Message = strings.TrimPrefix(p.Message, "records["+m[1]+"]: ")
			}
		}
		if p.Rule == "" {
			p.Rule = "invalid"
		}
		out = append(out, p)
	}
	return out
}

// reader turns tables into items.
type reader struct {
	ctx   context.Context
	cats  Categories
	known map[string]*skjold.Category
}

// category returns a category by name, or nil when the tenant has none such.
func (r *reader) category(name string) (*skjold.Category, error) {
	if c, ok := r.known[name]; ok {
		return c, nil
	}
	c, err := r.cats.FindCategory(r.ctx, name)
	var e *skjold.Error
	if errors.As(err, &e) && e.Code == skjold.ENOTFOUND {
		c, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	r.known[name] = c
	return c, nil
}

// exported reads tables in the export's layout: the subject table's rows are the subjects,
// every other table's rows are records of the category it is named after, tied to their
// subject by subject_id.
func (r *reader) exported(tables []*table) ([]*item, error) {
	var subjects *table
	for _, t := range tables {
		if t.name == skjold.SubjectCategory {
			subjects = t
		}
	}
	if subjects == nil {
		return nil, skjold.FieldError("file", "layout", "the file has no %q table: without a mapping, it must be laid out as the export writes it", skjold.SubjectCategory)
	}
	idCol := column(subjects.header, colSubjectID)
	cols := map[int]string{}
	for i, h := range subjects.header {
		switch h {
		case colSubjectID, colRecordID, colCreatedAt:
		case skjold.FieldRef, skjold.FieldEmail, skjold.FieldPhone, skjold.FieldName, skjold.FieldBirthDate:
			cols[i] = h
		default:
			return nil, skjold.FieldError(h, "unknown", "%s: the subject category has no field %q", subjects.name, h)
		}
	}
	def, err := r.category(skjold.SubjectCategory)
	if err != nil {
		return nil, err
	}
	items := make([]*item, 0, len(subjects.rows))
	byID := map[string]*item{}
	refs := map[string]int{}
	for n, row := range subjects.rows {
		it := &item{table: subjects.name}
		it.Line, it.Subject = subjects.lines[n], &skjold.Subject{}
		for i, name := range cols {
			if i < len(row) {
				it.Subject.SetValue(name, profileText(def, name, strings.TrimSpace(row[i]), subjects.xlsx))
			}
		}
		it.checkRef(refs)
		if idCol >= 0 && idCol < len(row) && row[idCol] != "" {
			byID[row[idCol]] = it
		}
		items = append(items, it)
	}
	for _, t := range tables {
		if t == subjects {
			continue
		}
		cat, err := r.category(t.name)
		if err != nil {
			return nil, err
		}
		if cat == nil {
			return nil, skjold.FieldError("file", "category", "table %q does not name a category of this tenant", t.name)
		}
		idCol := column(t.header, colSubjectID)
		if idCol < 0 {
			return nil, skjold.FieldError(colSubjectID, "required", "%s: the %q column is required", t.name, colSubjectID)
		}
		for n, row := range t.rows {
			line := t.lines[n]
			it := byID[cell(row, idCol)]
			if it == nil {
				return nil, skjold.FieldError(colSubjectID, "subject", "%s line %d: subject_id names no subject of the file", t.name, line)
			}
			data := map[string]any{}
			for i, h := range t.header {
				if h == colSubjectID || h == colRecordID || h == colCreatedAt {
					continue
				}
				if v := cell(row, i); v != "" {
					data[h] = typed(cat.Field(h), v, t.xlsx)
				}
			}
			it.Records = append(it.Records, &skjold.Record{Category: cat.Name, Data: data})
			it.origins = append(it.origins, origin{t.name, line})
		}
	}
	return items, nil
}

// mapped reads the first table with a mapping: one subject a row.
func (r *reader) mapped(tables []*table, m Mapping) ([]*item, error) {
	if len(tables) == 0 {
		return nil, skjold.FieldError("file", "empty", "the file holds no table")
	}
	t := tables[0]
	type target struct {
		cat   *skjold.Category // nil: the subject's profile
		field string
	}
	targets := map[int]target{}
	var order []string // categories in the order of their first column
	for i, h := range t.header {
		to, ok := m[h]
		if !ok {
			return nil, skjold.FieldError("mapping", "unmapped", "column %d of the header is not in the mapping (map it to \"-\" to leave it out)", i+1)
		}
		if to == "-" {
			continue
		}
		catName, field, isRecord := strings.Cut(to, ".")
		if !isRecord {
			targets[i] = target{field: to}
			continue
		}
		cat, err := r.category(catName)
		if err != nil {
			return nil, err
		}
		if cat == nil || cat.Name == skjold.SubjectCategory {
			return nil, skjold.FieldError("mapping", "category", "the mapping of column %d names no record category of this tenant", i+1)
		}
		if !containsCat(order, cat.Name) {
			order = append(order, cat.Name)
		}
		targets[i] = target{cat: cat, field: field}
	}
	def, err := r.category(skjold.SubjectCategory)
	if err != nil {
		return nil, err
	}
	items := make([]*item, 0, len(t.rows))
	refs := map[string]int{}
	for n, row := range t.rows {
		it := &item{table: t.name}
		it.Line, it.Subject = t.lines[n], &skjold.Subject{}
		data := map[string]map[string]any{}
		for i, tg := range targets {
			v := strings.TrimSpace(cell(row, i))
			switch {
			case tg.cat == nil && v != "":
				if !isProfileField(tg.field) {
					it.bad = append(it.bad, Problem{Table: t.name, Line: it.Line, Field: tg.field, Rule: "unknown",
						Message: fmt.Sprintf("the subject category has no field %q", tg.field)})
				}
				it.Subject.SetValue(tg.field, profileText(def, tg.field, v, t.xlsx))
			case tg.cat != nil && v != "":
				if data[tg.cat.Name] == nil {
					data[tg.cat.Name] = map[string]any{}
				}
				data[tg.cat.Name][tg.field] = typed(tg.cat.Field(tg.field), v, t.xlsx)
			}
		}
		for _, name := range order {
			if d := data[name]; d != nil {
				it.Records = append(it.Records, &skjold.Record{Category: name, Data: d})
				it.origins = append(it.origins, origin{t.name, it.Line})
			}
		}
		it.checkRef(refs)
		items = append(items, it)
	}
	return items, nil
}

// checkRef refuses a ref used by an earlier row of the file.
func (it *item) checkRef(refs map[string]int) {
	ref := it.Subject.Ref
	if ref == "" {
		return
	}
	if first, ok := refs[ref]; ok {
		it.bad = append(it.bad, Problem{Table: it.table, Line: it.Line, Field: skjold.FieldRef, Rule: "unique",
			Message: fmt.Sprintf("the ref is used by line %d of the file already", first)})
		return
	}
	refs[ref] = it.Line
}

func isProfileField(name string) bool {
	switch name {
	case skjold.FieldRef, skjold.FieldEmail, skjold.FieldPhone, skjold.FieldName, skjold.FieldBirthDate:
		return true
	}
	return false
}

func containsCat(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

func column(header []string, name string) int {
	for i, h := range header {
		if h == name {
			return i
		}
	}
	return -1
}

func cell(row []string, i int) string {
	if i < len(row) {
		return row[i]
	}
	return ""
}

// typed turns a cell into the value the API would have been sent for the field: a number
// for number fields, a boolean for booleans, dates from spreadsheet serial numbers, text
// otherwise. A cell that does not parse stays text, and the field's rule refuses it.
func typed(f *skjold.Field, v string, xlsx bool) any {
	if f == nil {
		return v
	}
	switch f.Type {
	case skjold.TypeNumber, skjold.TypeInteger:
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return json.Number(v)
		}
	case skjold.TypeBoolean:
		switch strings.ToLower(v) {
		case "true", "1":
			return true
		case "false", "0":
			return false
		}
	case skjold.TypeDate, skjold.TypeDateTime:
		if !xlsx {
			return v
		}
		serial, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return v
		}
		t, err := excelize.ExcelDateToTime(serial, false)
		if err != nil {
			return v
		}
		if f.Type == skjold.TypeDate {
			return t.Format(time.DateOnly)
		}
		return t.UTC().Round(time.Millisecond).Format(time.RFC3339Nano)
	}
	return v
}

// profileText is a profile cell as text, a spreadsheet date as YYYY-MM-DD.
func profileText(def *skjold.Category, name, v string, xlsx bool) string {
	if def == nil {
		return v
	}
	if s, ok := typed(def.Field(name), v, xlsx).(string); ok {
		return s
	}
	return v
}
