package storetest

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/export"
	"github.com/skjold-project/skjold/imports"
)

// TestImport checks imports through the store: an export imported into a new tenant holds
// every value it held, bad rows are reported by line and rule and nothing of them is stored,
// all-or-nothing writes nothing when a row is bad, and a re-run resumes.
func TestImport(t *testing.T, h Harness) {
	t.Run("RoundTripCSV", func(t *testing.T) { testImportRoundTrip(t, newEnv(t, h), skjold.FormatCSV) })
	t.Run("RoundTripXLSX", func(t *testing.T) { testImportRoundTrip(t, newEnv(t, h), skjold.FormatXLSX) })
	t.Run("BadRows", func(t *testing.T) { testImportBadRows(t, newEnv(t, h)) })
	t.Run("AllOrNothing", func(t *testing.T) { testImportAllOrNothing(t, newEnv(t, h)) })
	t.Run("RecordProblems", func(t *testing.T) { testImportRecordProblems(t, newEnv(t, h)) })
	t.Run("Resume", func(t *testing.T) { testImportResume(t, newEnv(t, h)) })
}

// exportOf exports the tenant of ctx in format and returns the file.
func (e *env) exportOf(ctx context.Context, format string) []byte {
	e.t.Helper()
	var buf bytes.Buffer
	var sink interface {
		skjold.ExportSink
		Close() error
	}
	if format == skjold.FormatXLSX {
		sink = export.NewXLSX(&buf)
	} else {
		sink = export.NewCSV(&buf)
	}
	must(e.t, e.db.ExportTenant(ctx, "", sink))
	must(e.t, sink.Close())
	return buf.Bytes()
}

// tenantValues is every value of a tenant, by subject ref: the profile's and, per category,
// its records' (in the export's order), without ids and times.
func (e *env) tenantValues(ctx context.Context) map[string]map[string][]map[string]any {
	e.t.Helper()
	var m memSink
	must(e.t, e.db.ExportTenant(ctx, "", &m))
	refs := map[string]string{}
	out := map[string]map[string][]map[string]any{}
	for _, r := range m.rows[skjold.SubjectCategory] {
		ref, _ := r.Values[skjold.FieldRef].(string)
		refs[r.SubjectID] = ref
		out[ref] = map[string][]map[string]any{skjold.SubjectCategory: {r.Values}}
	}
	for cat, rows := range m.rows {
		if cat == skjold.SubjectCategory {
			continue
		}
		for _, r := range rows {
			ref := refs[r.SubjectID]
			out[ref][cat] = append(out[ref][cat], r.Values)
		}
	}
	return out
}

// sortRecords orders each subject's records by their text form, as the import gives them
// new ids.
func sortRecords(v map[string]map[string][]map[string]any) {
	for _, cats := range v {
		for _, recs := range cats {
			for i := range recs {
				for j := i + 1; j < len(recs); j++ {
					if fmt.Sprint(recs[j]) < fmt.Sprint(recs[i]) {
						recs[i], recs[j] = recs[j], recs[i]
					}
				}
			}
		}
	}
}

// inUTC puts every time in UTC.
func inUTC(v map[string]map[string][]map[string]any) {
	for _, cats := range v {
		for _, recs := range cats {
			for _, r := range recs {
				for k, x := range r {
					if tm, ok := x.(time.Time); ok {
						r[k] = tm.UTC()
					}
				}
			}
		}
	}
}

func testImportRoundTrip(t *testing.T, e *env, format string) {
	a, _, _ := e.exportFixture()
	e.noFourEyes(a)
	from := e.as(a, "border_control")
	ctx := e.as(a, "")
	for i := range 40 { // more than a batch below
		s := e.newSubject(ctx, &skjold.Subject{Ref: fmt.Sprintf("R-%03d", i), Email: fmt.Sprintf("p%d@example.com", i)})
		e.newRecord(ctx, s.ID, "trip", map[string]any{"destination": "Oslo", "nights": float64(i), "price": float64(i) / 4,
			"insured": i%2 == 0, "booked_at": "2025-02-03T04:05:06Z"})
	}
	file := e.exportOf(from, format)

	b := e.newTenant("Nordlys Reiser AS")
	to := e.as(b, "border_control")
	_, err := e.db.PutCategory(to, trip())
	must(t, err)
	e.noFourEyesBy(b, "nordlys")
	seq := e.lastSeq()
	rep, err := imports.Run(to, e.db, e.db, file, imports.Options{Batch: 16})
	must(t, err)
	if rep.Imported != 43 || rep.Refused != 0 || rep.Skipped != 0 || rep.Records != 43 || len(rep.Problems) != 0 {
		t.Fatalf("report: %+v", rep)
	}
	want, got := e.tenantValues(from), e.tenantValues(to)
	sortRecords(want)
	sortRecords(got)
	if format == skjold.FormatXLSX { // a workbook holds times in UTC: the same instant, without its offset
		inUTC(want)
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("imported values differ:\nwant %v\n got %v", want, got)
	}
	var imports, creates int
	for _, ev := range e.events(seq) {
		switch ev.Action {
		case "tenant.import":
			imports++
			if ev.TenantID != b.ID {
				t.Errorf("import event of tenant %s", ev.TenantID)
			}
		case "subject.create":
			creates++
		}
	}
	if imports != 1 || creates != 43 {
		t.Errorf("audit: %d import events, %d subject.create; want 1 and 43", imports, creates)
	}
}

// badFile is a CSV in the export's subject layout with good rows and three bad ones.
const badFile = "subject_id,record_id,created_at,ref,email,name\n" +
	"s1,,,B-1,ok1@example.com,Kari\n" +
	"s2,,,B-2,not-an-email,Ola\n" + // line 3: email
	"s3,,,B-3,ok3@example.com,\"card 4111 1111 1111 1111\"\n" + // line 4: the input guard
	"s4,,,B-4,ok4@example.com,Per\n" +
	"s5,,,B-1,ok5@example.com,Again\n" // line 6: a ref the file used already

func testImportBadRows(t *testing.T, e *env) {
	a := e.newTenant("Fjord Travel AS")
	ctx := e.as(a, "")
	rep, err := imports.Run(ctx, e.db, e.db, []byte(badFile), imports.Options{})
	must(t, err)
	if rep.Imported != 2 || rep.Refused != 3 {
		t.Fatalf("report: %+v", rep)
	}
	want := []imports.Problem{{Line: 3, Field: "email", Rule: "email"}, {Line: 4, Field: "name", Rule: skjold.KindCardNumber},
		{Line: 6, Field: "ref", Rule: "unique"}}
	if len(rep.Problems) != len(want) {
		t.Fatalf("problems: %+v", rep.Problems)
	}
	for i, p := range rep.Problems {
		if p.Line != want[i].Line || p.Field != want[i].Field || p.Rule != want[i].Rule || p.Message == "" {
			t.Errorf("problem %d: %+v, want line %d field %s rule %s", i, p, want[i].Line, want[i].Field, want[i].Rule)
		}
		for _, v := range []string{"not-an-email", "4111", "Again", "ok5", "B-1"} {
			if strings.Contains(p.Message, v) {
				t.Errorf("problem %d shows a value: %q", i, p.Message)
			}
		}
	}
	if n := e.rawCount(e.raw(), "SELECT COUNT(*) FROM subjects WHERE tenant_id = ?", a.ID); n != 2 {
		t.Fatalf("%d subjects stored, want the 2 good ones", n)
	}
	for _, ref := range []string{"B-2", "B-3"} {
		found, err := e.db.FindSubjects(ctx, skjold.SubjectFilter{Ref: ref})
		must(t, err)
		if len(found) != 0 {
			t.Errorf("refused row %s was stored", ref)
		}
	}
}

func testImportAllOrNothing(t *testing.T, e *env) {
	a := e.newTenant("Fjord Travel AS")
	ctx := e.as(a, "")
	rep, err := imports.Run(ctx, e.db, e.db, []byte(badFile), imports.Options{AllOrNothing: true, Batch: 2})
	must(t, err)
	if rep.Imported != 0 || rep.Refused != 3 || len(rep.Problems) != 3 {
		t.Fatalf("report: %+v", rep)
	}
	if n := e.rawCount(e.raw(), "SELECT COUNT(*) FROM subjects WHERE tenant_id = ?", a.ID); n != 0 {
		t.Fatalf("%d subjects stored, want none", n)
	}
	good := strings.Join(strings.Split(badFile, "\n")[:2], "\n") + "\n"
	rep, err = imports.Run(ctx, e.db, e.db, []byte(good), imports.Options{AllOrNothing: true})
	must(t, err)
	if rep.Imported != 1 || rep.Refused != 0 {
		t.Fatalf("report of a good file: %+v", rep)
	}
	if n := e.rawCount(e.raw(), "SELECT COUNT(*) FROM subjects WHERE tenant_id = ?", a.ID); n != 1 {
		t.Fatalf("%d subjects stored, want 1", n)
	}
}

func testImportResume(t *testing.T, e *env) {
	a := e.newTenant("Fjord Travel AS")
	ctx := e.as(a, "")
	var b strings.Builder
	b.WriteString("Kundenr;E-post;Telefon\n")
	for i := range 30 {
		fmt.Fprintf(&b, "K%d;k%d@example.com;+47 900 00 %03d\n", i, i, i)
	}
	file := strings.ReplaceAll(b.String(), ";", ",")
	m := imports.Mapping{"Kundenr": "ref", "E-post": "email", "Telefon": "phone"}
	lines := strings.SplitAfter(file, "\n")
	part := strings.Join(lines[:13], "") // the header and 12 rows: an import cut off
	rep, err := imports.Run(ctx, e.db, e.db, []byte(part), imports.Options{Mapping: m, Batch: 5})
	must(t, err)
	if rep.Imported != 12 {
		t.Fatalf("first run: %+v", rep)
	}
	var progress []int
	rep, err = imports.Run(ctx, e.db, e.db, []byte(file), imports.Options{Mapping: m, Batch: 5,
		Progress: func(done, total int) { progress = append(progress, done) }})
	must(t, err)
	if rep.Imported != 18 || rep.Skipped != 12 || rep.Refused != 0 {
		t.Fatalf("resumed run: %+v", rep)
	}
	if len(progress) != 6 || progress[5] != 30 {
		t.Errorf("progress %v", progress)
	}
	if n := e.rawCount(e.raw(), "SELECT COUNT(*) FROM subjects WHERE tenant_id = ?", a.ID); n != 30 {
		t.Fatalf("%d subjects stored, want 30", n)
	}
	found, err := e.db.FindSubjects(ctx, skjold.SubjectFilter{Ref: "K29"})
	must(t, err)
	if len(found) != 1 || found[0].Email != "k29@example.com" {
		t.Fatalf("K29: %+v", found)
	}
}

// noFourEyesBy is noFourEyes for a second tenant, with its own owners' addresses.
func (e *env) noFourEyesBy(a *tenant, domain string) {
	_, owner := e.adminCtx(a, "settings-owner@"+domain+".example", skjold.RoleOwner)
	_, second := e.adminCtx(a, "settings-second@"+domain+".example", skjold.RoleOwner)
	set, err := e.db.SessionSettings(owner)
	must(e.t, err)
	for _, action := range set.FourEyes {
		req := &skjold.Approval{Action: skjold.ActionFourEyesReduction, Target: action}
		must(e.t, e.db.RequestApproval(owner, req))
		_, err := e.db.DecideApproval(second, req.ID, true)
		must(e.t, err)
	}
}

// testImportRecordProblems: a refused record is reported at its own table and line, and
// refuses its subject with it.
func testImportRecordProblems(t *testing.T, e *env) {
	a := e.newTenant("Fjord Travel AS")
	ctx := e.as(a, "")
	_, err := e.db.PutCategory(ctx, trip())
	must(t, err)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("subject.csv")
	w.Write([]byte("subject_id,record_id,created_at,ref\ns1,,,T-1\ns2,,,T-2\n"))
	w, _ = zw.Create("trip.csv")
	w.Write([]byte("subject_id,record_id,created_at,destination,nights\ns1,,,Oslo,3\ns2,,,Bergen,3\ns2,,,Molde,three\n"))
	must(t, zw.Close())
	rep, err := imports.Run(ctx, e.db, e.db, buf.Bytes(), imports.Options{})
	must(t, err)
	if rep.Imported != 1 || rep.Refused != 1 || len(rep.Problems) != 1 {
		t.Fatalf("report: %+v", rep)
	}
	if p := rep.Problems[0]; p.Table != "trip" || p.Line != 4 || p.Field != "nights" || p.Rule != "type" || strings.Contains(p.Message, "three") {
		t.Errorf("problem: %+v, want trip line 4 nights type", p)
	}
	if n := e.rawCount(e.raw(), "SELECT COUNT(*) FROM records WHERE tenant_id = ?", a.ID); n != 1 {
		t.Errorf("%d records stored, want T-1's one", n)
	}
}
