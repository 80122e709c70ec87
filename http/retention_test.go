package http

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
)

// TestRetentionPlanAndRelationship drives the retention routes: a prospect shows in the
// plan with its due date, ending a relationship shows on the subject, and bad input is
// refused naming the field.
func TestRetentionPlanAndRelationship(t *testing.T) {
	e := newEnv(t)
	prospect := e.createSubject(t, e.a.token, map[string]string{"name": "Enquirer", "relationship": "prospect"})
	customer := e.createSubject(t, e.a.token, map[string]string{"name": "Customer"})
	if prospect.Relationship != skjold.RelationshipProspect || customer.Relationship != skjold.RelationshipActive {
		t.Fatalf("created relationships %q and %q, want prospect and active", prospect.Relationship, customer.Relationship)
	}

	var plan struct{ Items []skjold.RetentionDue }
	e.do(t, e.a.token, "GET", "/api/v1/retention/plan?days=29", nil).want(t, 200).decode(t, &plan)
	if len(plan.Items) != 0 {
		t.Errorf("the 29-day plan lists %+v, want nothing: the prospect is due on day 30", plan.Items)
	}
	e.do(t, e.a.token, "GET", "/api/v1/retention/plan", nil).want(t, 200).decode(t, &plan) // 30 days
	want := prospect.CreatedAt.AddDate(0, 0, skjold.DefaultProspectDays)
	if len(plan.Items) != 1 || plan.Items[0].SubjectID != prospect.ID || plan.Items[0].RecordID != "" || !plan.Items[0].DueAt.Equal(want) {
		t.Errorf("the 30-day plan = %+v, want the prospect due at %v", plan.Items, want)
	}

	e.do(t, e.a.token, "PUT", "/api/v1/subjects/"+customer.ID+"/relationship", map[string]string{"state": "ended"}).want(t, 204)
	var got skjold.Subject
	e.do(t, e.a.token, "GET", "/api/v1/subjects/"+customer.ID, nil).want(t, 200).decode(t, &got)
	if got.Relationship != skjold.RelationshipEnded || got.RelationshipEndedAt == nil {
		t.Errorf("after ending: relationship %q ended at %v", got.Relationship, got.RelationshipEndedAt)
	}

	for _, c := range []struct{ method, path, field string }{
		{"GET", "/api/v1/retention/plan?days=0", "days"},
		{"GET", "/api/v1/retention/plan?days=367", "days"},
		{"GET", "/api/v1/retention/plan?days=soon", "days"},
		{"PUT", "/api/v1/subjects/" + customer.ID + "/relationship", "state"},
		{"POST", "/api/v1/subjects", "relationship"},
	} {
		var body any = map[string]string{"state": "finished"}
		if c.method == "POST" {
			body = map[string]string{"name": "X", "relationship": "ended"}
		}
		if c.method == "GET" {
			body = nil
		}
		e.unchanged(t, func() {
			if got := e.do(t, e.a.token, c.method, c.path, body).wantError(t, 400, skjold.EINVALID); got.Field != c.field {
				t.Errorf("%s %s: error names %q, want %q", c.method, c.path, got.Field, c.field)
			}
		})
	}
}

// TestMetricsSweep checks that a sweep's report shows in /metrics.
func TestMetricsSweep(t *testing.T) {
	m := NewMetrics("test", func(context.Context) (int64, error) { return 0, nil })
	start := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	m.ObserveSweep(&skjold.SweepReport{Started: start, Finished: start.Add(1500 * time.Millisecond), ErasedRecords: 1234, ErasedSubjects: 5})
	w := httptest.NewRecorder()
	m.handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body := w.Body.String()
	for _, want := range []string{
		"skjold_retention_erased_records_total 1234",
		"skjold_retention_erased_subjects_total 5",
		"skjold_retention_last_sweep_timestamp_seconds 1.7673228015e+09",
		"skjold_retention_sweep_duration_seconds_sum 1.5",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
