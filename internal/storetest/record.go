package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// sampleValue returns a valid value of the field's type, as JSON would decode it.
func sampleValue(f skjold.Field) any {
	switch {
	case skjold.IsBirthDateField(&f):
		return "1980-06-01" // an adult's: a minor's would need a guardian
	case f.Type == skjold.TypeDate:
		return "2025-06-01"
	case f.Type == skjold.TypeDateTime:
		return "2025-06-01T10:30:00+02:00"
	case f.Type == skjold.TypeNumber:
		return 1234.5
	case f.Type == skjold.TypeInteger:
		return 90.0
	case f.Type == skjold.TypeBoolean:
		return true
	case f.Type == skjold.TypeEmail:
		return "someone@example.com"
	case f.Type == skjold.TypePhone:
		return "+47 912 34 567"
	}
	return "Sample " + f.Name
}

// booking returns the data of a valid travel booking.
func booking() map[string]any {
	return map[string]any{"booking_reference": "XK9QZ", "kind": "flight", "departure_date": "2025-06-01",
		"destination": "Tromsø", "price": 2499.0, "notes": "Window seat"}
}

// TestRecords checks the skjold.RecordService: every template's records, validation against
// the category, partial updates, purpose-bound fields, deletion and erasure with the subject.
func TestRecords(t *testing.T, h Harness) {
	t.Run("Templates", func(t *testing.T) { testRecordTemplates(t, h) })
	t.Run("Refused", func(t *testing.T) { testRecordRefused(t, h) })
	t.Run("UpdateMerge", func(t *testing.T) { testRecordUpdate(t, h) })
	t.Run("PurposeBound", func(t *testing.T) { testRecordPurposeBound(t, h) })
	t.Run("PurposeBindingChange", func(t *testing.T) { testPurposeBindingChange(t, h) })
	t.Run("FindRecords", func(t *testing.T) { testFindRecords(t, h) })
	t.Run("Delete", func(t *testing.T) { testRecordDelete(t, h) })
	t.Run("ErasedSubject", func(t *testing.T) { testRecordsOfErasedSubject(t, h) })
	t.Run("Callers", func(t *testing.T) { testRecordCallers(t, h) })
}

func testRecordTemplates(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "credit_check")
	s := e.newSubject(ctx, anna())
	for _, cat := range skjold.Templates() {
		if cat.Name == skjold.SubjectCategory {
			continue
		}
		required, all := map[string]any{}, map[string]any{}
		for _, f := range cat.Fields {
			all[f.Name] = sampleValue(f)
			if f.Required {
				required[f.Name] = sampleValue(f)
			}
		}
		for name, data := range map[string]map[string]any{"required": required, "all": all} {
			r := e.newRecord(ctx, s.ID, cat.Name, data)
			if !skjold.ValidID(r.ID) || r.SubjectID != s.ID || !r.CreatedAt.Equal(epoch) || !r.UpdatedAt.Equal(epoch) {
				t.Errorf("%s, %s fields: created record = %+v", cat.Name, name, r)
			}
			got, err := e.db.FindRecordByID(ctx, r.ID)
			must(t, err)
			if got.Category != cat.Name || got.SubjectID != s.ID || len(got.Withheld) != 0 {
				t.Errorf("%s, %s fields: FindRecordByID = %+v", cat.Name, name, got)
			}
			if a, b := mustJSON(t, got.Data), mustJSON(t, r.Data); a != b {
				t.Errorf("%s, %s fields: read back\n%s\nwant\n%s", cat.Name, name, a, b)
			}
		}
	}
}

func testRecordRefused(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	s := e.newSubject(ctx, anna())
	with := func(change func(d map[string]any)) map[string]any {
		d := booking()
		change(d)
		return d
	}
	for _, tc := range []struct {
		name     string
		category string
		data     map[string]any
		code     string
	}{
		{"unknown field", "travel_booking", with(func(d map[string]any) { d["seat"] = "12A" }), skjold.EINVALID},
		{"string for number", "travel_booking", with(func(d map[string]any) { d["price"] = "cheap" }), skjold.EINVALID},
		{"number for string", "travel_booking", with(func(d map[string]any) { d["kind"] = 5.0 }), skjold.EINVALID},
		{"bad date", "travel_booking", with(func(d map[string]any) { d["departure_date"] = "2025-02-30" }), skjold.EINVALID},
		{"missing required", "travel_booking", with(func(d map[string]any) { delete(d, "departure_date") }), skjold.EINVALID},
		{"nil required", "travel_booking", with(func(d map[string]any) { d["kind"] = nil }), skjold.EINVALID},
		{"nil optional", "travel_booking", with(func(d map[string]any) { d["notes"] = nil }), skjold.EINVALID},
		{"card in notes", "travel_booking", with(func(d map[string]any) { d["notes"] = "paid with 4111 1111 1111 1111" }), skjold.EINVALID},
		{"fraction for integer", "reservation", map[string]any{"service": "Massage", "starts_at": "2025-06-01T10:00:00Z", "duration_minutes": 1.5}, skjold.EINVALID},
		{"bad datetime", "reservation", map[string]any{"service": "Massage", "starts_at": "2025-06-01 10:00"}, skjold.EINVALID},
		{"string for boolean", "training_enrollment", map[string]any{"course": "Go", "start_date": "2025-06-01", "completed": "yes"}, skjold.EINVALID},
		{"bad email", "contact", map[string]any{"email": "anna at example"}, skjold.EINVALID},
		{"no data", "invoice", map[string]any{}, skjold.EINVALID},
		{"subject category", skjold.SubjectCategory, map[string]any{"name": "Anna"}, skjold.EINVALID},
		{"unknown category", "loyalty", map[string]any{"member_number": "1"}, skjold.ENOTFOUND},
		{"malformed category", "Travel Booking", booking(), skjold.ENOTFOUND},
		{"empty category", "", booking(), skjold.ENOTFOUND},
	} {
		err := e.db.CreateRecord(ctx, &skjold.Record{SubjectID: s.ID, Category: tc.category, Data: tc.data})
		if skjold.ErrorCode(err) != tc.code {
			t.Errorf("%s: CreateRecord error = %v, want %s", tc.name, err, tc.code)
		}
	}
	err := e.db.CreateRecord(ctx, &skjold.Record{SubjectID: "0193d6a4-0000-7000-8000-000000000000", Category: "travel_booking", Data: booking()})
	wantCode(t, err, skjold.ENOTFOUND)
	recs, err := e.db.FindRecords(ctx, skjold.RecordFilter{SubjectID: s.ID})
	must(t, err)
	if len(recs) != 0 {
		t.Errorf("%d records stored after refused creations", len(recs))
	}
	e.noPlaintext(t, "4111 1111 1111 1111")
}

func testRecordUpdate(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	s := e.newSubject(ctx, anna())
	r := e.newRecord(ctx, s.ID, "travel_booking", booking())

	e.clock.Add(time.Hour)
	upd, err := e.db.UpdateRecord(ctx, r.ID, map[string]any{"notes": nil, "carrier": "Widerøe", "price": 1999.0})
	must(t, err)
	want := booking()
	delete(want, "notes")
	want["carrier"], want["price"] = "Widerøe", 1999.0
	if a, b := mustJSON(t, upd.Data), mustJSON(t, want); a != b {
		t.Errorf("UpdateRecord data =\n%s\nwant\n%s", a, b)
	}
	if !upd.CreatedAt.Equal(epoch) || !upd.UpdatedAt.Equal(epoch.Add(time.Hour)) || upd.Category != "travel_booking" {
		t.Errorf("UpdateRecord = %+v", upd)
	}
	got, err := e.db.FindRecordByID(ctx, r.ID)
	must(t, err)
	if a, b := mustJSON(t, got.Data), mustJSON(t, want); a != b {
		t.Errorf("after update, FindRecordByID data =\n%s\nwant\n%s", a, b)
	}
	if !got.UpdatedAt.Equal(epoch.Add(time.Hour)) {
		t.Errorf("UpdatedAt = %v", got.UpdatedAt)
	}

	for name, change := range map[string]map[string]any{
		"remove required": {"kind": nil},
		"unknown field":   {"seat": "12A"},
		"wrong type":      {"price": "free"},
		"guard":           {"notes": "card 4111 1111 1111 1111"},
	} {
		_, err := e.db.UpdateRecord(ctx, r.ID, change)
		if skjold.ErrorCode(err) != skjold.EINVALID {
			t.Errorf("%s: UpdateRecord error = %v, want %s", name, err, skjold.EINVALID)
		}
	}
	again, err := e.db.FindRecordByID(ctx, r.ID)
	must(t, err)
	if mustJSON(t, again) != mustJSON(t, got) {
		t.Errorf("refused updates changed the record:\n%+v\nwas\n%+v", again, got)
	}
}

func testRecordPurposeBound(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	s := e.newSubject(e.as(tn, ""), anna())
	r := e.newRecord(e.as(tn, ""), s.ID, "identity", map[string]any{"first_name": "Anna", "birth_date": adultBorn})
	// The answer to a creation follows the same purpose rules as a read.
	if _, has := r.Data["birth_date"]; has || !slices.Equal(r.Withheld, []string{"birth_date"}) {
		t.Errorf("CreateRecord without the purpose returned %v, withheld %v", r.Data, r.Withheld)
	}
	other := e.newSubject(e.as(tn, ""), &skjold.Subject{Ref: "C-2"})
	if r2 := e.newRecord(e.as(tn, "credit_check"), other.ID, "identity", map[string]any{"birth_date": adultBorn}); r2.Data["birth_date"] != adultBorn || len(r2.Withheld) != 0 {
		t.Errorf("CreateRecord with the purpose returned %v, withheld %v", r2.Data, r2.Withheld)
	}
	for _, tc := range []struct {
		purpose string
		shown   bool
	}{{"", false}, {"contract", false}, {"credit_check", true}, {"debt_collection", true}} {
		ctx := e.as(tn, tc.purpose)
		got, err := e.db.FindRecordByID(ctx, r.ID)
		must(t, err)
		list, err := e.db.FindRecords(ctx, skjold.RecordFilter{SubjectID: s.ID})
		must(t, err)
		if len(list) != 1 {
			t.Fatalf("FindRecords = %d records", len(list))
		}
		upd, err := e.db.UpdateRecord(ctx, r.ID, map[string]any{"nationality": "NO"})
		must(t, err)
		for name, got := range map[string]*skjold.Record{"FindRecordByID": got, "FindRecords": list[0], "UpdateRecord": upd} {
			_, has := got.Data["birth_date"]
			if tc.shown && (!has || len(got.Withheld) != 0) {
				t.Errorf("%s for purpose %q: data %v withheld %v, want birth_date shown", name, tc.purpose, got.Data, got.Withheld)
			}
			if !tc.shown && (has || !slices.Equal(got.Withheld, []string{"birth_date"})) {
				t.Errorf("%s for purpose %q: data %v withheld %v, want birth_date withheld", name, tc.purpose, got.Data, got.Withheld)
			}
			if got.Data["first_name"] != "Anna" {
				t.Errorf("%s for purpose %q lost first_name: %v", name, tc.purpose, got.Data)
			}
		}
	}
	got, err := e.db.FindRecordByID(e.as(tn, "credit_check"), r.ID)
	must(t, err)
	if got.Data["birth_date"] != adultBorn {
		t.Errorf("updates by callers without the purpose lost birth_date: %v", got.Data)
	}
}

func testFindRecords(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	s := e.newSubject(ctx, anna())
	other := e.newSubject(ctx, &skjold.Subject{Ref: "C-1002"})
	var bookings, all []string
	for i := range 5 {
		r := e.newRecord(ctx, s.ID, "travel_booking", booking())
		bookings, all = append(bookings, r.ID), append(all, r.ID)
		if i%2 == 0 {
			all = append(all, e.newRecord(ctx, s.ID, "contact", map[string]any{"city": "Bergen"}).ID)
		}
	}
	e.newRecord(ctx, other.ID, "contact", map[string]any{"city": "Oslo"})

	page := func(f skjold.RecordFilter) []string {
		t.Helper()
		var ids []string
		for range 10 {
			recs, err := e.db.FindRecords(ctx, f)
			must(t, err)
			for _, r := range recs {
				if r.SubjectID != s.ID {
					t.Errorf("FindRecords returned record %s of another subject", r.ID)
				}
				ids = append(ids, r.ID)
			}
			if len(recs) < f.Limit {
				break
			}
			f.After = recs[len(recs)-1].ID
		}
		return ids
	}
	if got := page(skjold.RecordFilter{SubjectID: s.ID, Page: skjold.Page{Limit: 2}}); !slices.Equal(got, all) {
		t.Errorf("paged records %v, want %v", got, all)
	}
	if got := page(skjold.RecordFilter{SubjectID: s.ID, Category: "travel_booking", Page: skjold.Page{Limit: 2}}); !slices.Equal(got, bookings) {
		t.Errorf("paged bookings %v, want %v", got, bookings)
	}
	recs, err := e.db.FindRecords(ctx, skjold.RecordFilter{SubjectID: s.ID, Category: "invoice"})
	must(t, err)
	if recs == nil || len(recs) != 0 {
		t.Errorf("FindRecords of a category without records = %v, want an empty list", recs)
	}
	for _, p := range []skjold.Page{{Limit: -1}, {Limit: skjold.MaxPageLimit + 1}, {After: "x"}} {
		_, err := e.db.FindRecords(ctx, skjold.RecordFilter{SubjectID: s.ID, Page: p})
		wantCode(t, err, skjold.EINVALID)
	}
}

func testRecordDelete(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	s := e.newSubject(ctx, anna())
	keep := e.newRecord(ctx, s.ID, "travel_booking", booking())
	gone := e.newRecord(ctx, s.ID, "travel_booking", booking())
	must(t, e.db.DeleteRecord(ctx, gone.ID))
	_, err := e.db.FindRecordByID(ctx, gone.ID)
	wantCode(t, err, skjold.ENOTFOUND)
	_, err = e.db.UpdateRecord(ctx, gone.ID, map[string]any{"notes": "x"})
	wantCode(t, err, skjold.ENOTFOUND)
	wantCode(t, e.db.DeleteRecord(ctx, gone.ID), skjold.ENOTFOUND)
	recs, err := e.db.FindRecords(ctx, skjold.RecordFilter{SubjectID: s.ID})
	must(t, err)
	if len(recs) != 1 || recs[0].ID != keep.ID {
		t.Errorf("after deleting one record, FindRecords = %v", recs)
	}
	if _, err := e.db.FindSubjectByID(ctx, s.ID); err != nil {
		t.Errorf("deleting a record harmed its subject: %v", err)
	}
}

func testRecordsOfErasedSubject(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	s := e.newSubject(ctx, anna())
	other := e.newSubject(ctx, &skjold.Subject{Ref: "C-1002"})
	var ids []string
	for _, cat := range []string{"travel_booking", "travel_booking", "contact"} {
		data := booking()
		if cat == "contact" {
			data = map[string]any{"city": "Bergen"}
		}
		ids = append(ids, e.newRecord(ctx, s.ID, cat, data).ID)
	}
	kept := e.newRecord(ctx, other.ID, "contact", map[string]any{"city": "Oslo"})
	must(t, e.db.DeleteSubject(ctx, s.ID))
	for _, id := range ids {
		_, err := e.db.FindRecordByID(ctx, id)
		wantCode(t, err, skjold.ENOTFOUND)
	}
	_, err := e.db.FindRecords(ctx, skjold.RecordFilter{SubjectID: s.ID})
	wantCode(t, err, skjold.ENOTFOUND)
	err = e.db.CreateRecord(ctx, &skjold.Record{SubjectID: s.ID, Category: "contact", Data: map[string]any{"city": "Oslo"}})
	wantCode(t, err, skjold.ENOTFOUND)
	raw := e.raw()
	if n := e.rawCount(raw, "SELECT COUNT(*) FROM records WHERE subject_id = ?", s.ID); n != 0 {
		t.Errorf("%d record rows of the erased subject remain", n)
	}
	if _, err := e.db.FindRecordByID(ctx, kept.ID); err != nil {
		t.Errorf("erasing one subject harmed another's record: %v", err)
	}
}

func testRecordCallers(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.as(e.newTenant("Tenant A"), "")
	s := e.newSubject(ctx, anna())
	r := e.newRecord(ctx, s.ID, "travel_booking", booking())
	for code, ctx := range map[string]context.Context{skjold.EFORBIDDEN: e.op, skjold.EUNAUTHORIZED: t.Context()} {
		wantCode(t, e.db.CreateRecord(ctx, &skjold.Record{SubjectID: s.ID, Category: "travel_booking", Data: booking()}), code)
		_, err := e.db.FindRecordByID(ctx, r.ID)
		wantCode(t, err, code)
		_, err = e.db.FindRecords(ctx, skjold.RecordFilter{SubjectID: s.ID})
		wantCode(t, err, code)
		_, err = e.db.UpdateRecord(ctx, r.ID, map[string]any{"notes": "x"})
		wantCode(t, err, code)
		wantCode(t, e.db.DeleteRecord(ctx, r.ID), code)
	}
}

// testPurposeBindingChange makes a field purpose-bound just after a read: the next read must
// withhold it, however the store caches category definitions.
func testPurposeBindingChange(t *testing.T, h Harness) {
	e := newEnv(t, h)
	tn := e.newTenant("Tenant A")
	ctx := e.as(tn, "")
	s := e.newSubject(ctx, anna())
	r := e.newRecord(ctx, s.ID, "travel_booking", map[string]any{"booking_reference": "NL-4711",
		"kind": "flight", "departure_date": "2027-02-14", "destination": "Tromsø"})
	got, err := e.db.FindRecordByID(ctx, r.ID)
	must(t, err)
	if len(got.Withheld) != 0 {
		t.Fatalf("before the change, withheld %v", got.Withheld)
	}
	cat, err := e.db.FindCategory(ctx, "travel_booking")
	must(t, err)
	for i := range cat.Fields {
		if cat.Fields[i].Name == "destination" {
			cat.Fields[i].Purposes = []string{"debt_collection"}
		}
	}
	_, err = e.db.PutCategory(ctx, cat)
	must(t, err)
	got, err = e.db.FindRecordByID(ctx, r.ID)
	must(t, err)
	if _, has := got.Data["destination"]; has || !slices.Equal(got.Withheld, []string{"destination"}) {
		t.Errorf("after making destination purpose-bound, a read without the purpose returned %v, withheld %v", got.Data, got.Withheld)
	}
}
