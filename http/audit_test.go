package http

import (
	"encoding/hex"
	"strconv"
	"testing"

	"github.com/skjold-project/skjold"
)

// TestAuditPages checks that a full page of audit events carries the next cursor, also when
// the client leaves the limit to the default.
func TestAuditPages(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna"})
	for range skjold.DefaultPageLimit {
		e.do(t, e.a.token, "GET", "/api/v1/subjects/"+sub.ID, nil).want(t, 200)
	}
	var page struct {
		Items []skjold.AuditEvent
		Next  string
	}
	e.do(t, e.a.token, "GET", "/api/v1/audit", nil).want(t, 200).decode(t, &page)
	if len(page.Items) != skjold.DefaultPageLimit || page.Next != strconv.FormatInt(page.Items[len(page.Items)-1].Seq, 10) {
		t.Fatalf("default page: %d events, next %q", len(page.Items), page.Next)
	}
	total := len(e.auditEvents(t, e.a.token, ""))
	if total < skjold.DefaultPageLimit+2 {
		t.Errorf("%d events in all", total)
	}
	for _, ev := range e.auditEvents(t, e.a.token, "") {
		if ev.TenantID != e.a.id {
			t.Errorf("tenant A sees event %d of tenant %q", ev.Seq, ev.TenantID)
		}
	}
}

func TestAuditRecordsReadsAndWrites(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna", "email": "anna@example.com"})
	rec := e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "enquiry", "data": map[string]string{"message": "Hi"}})
	e.do(t, e.a.token, "GET", "/api/v1/records/"+rec.ID+"?purpose=answer_enquiry", nil).want(t, 200)
	var actions []string
	for _, ev := range e.auditEvents(t, e.a.token, "&subject_id="+sub.ID) {
		actions = append(actions, ev.Action)
		if ev.SubjectID != sub.ID || ev.Actor == "" || ev.Source != "127.0.0.1" {
			t.Errorf("event %+v", ev)
		}
		if ev.Action == "record.read" && (ev.Purpose != "answer_enquiry" || ev.RecordID != rec.ID) {
			t.Errorf("record read event %+v", ev)
		}
	}
	if want := []string{"subject.create", "record.create", "record.read"}; len(actions) != 3 || actions[0] != want[0] || actions[1] != want[1] || actions[2] != want[2] {
		t.Errorf("actions %v, want %v", actions, want)
	}
	var v struct {
		OK     bool
		Length int64
		Head   string
	}
	e.do(t, e.operator, "GET", "/api/v1/audit/verify", nil).want(t, 200).decode(t, &v)
	if head, err := hex.DecodeString(v.Head); !v.OK || v.Length != e.auditLength(t) || err != nil || len(head) != 32 {
		t.Errorf("verify %+v", v)
	}
	// The operator sees every tenant's events.
	tenants := map[string]bool{}
	for _, ev := range e.auditEvents(t, e.operator, "") {
		tenants[ev.TenantID] = true
	}
	if !tenants[e.a.id] || !tenants[e.b.id] {
		t.Errorf("the operator sees events of %v", tenants)
	}
}
