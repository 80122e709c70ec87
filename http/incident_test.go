package http

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/document"
)

// incidentBody is a well-formed POST /api/v1/incidents body.
func incidentBody() map[string]any {
	now := time.Now().UTC()
	return map[string]any{"title": "Leaked token", "description": "A token was pasted into a public issue.",
		"detected_at": now.Add(-2 * time.Hour).Format(time.RFC3339), "aware_at": now.Add(-time.Hour).Format(time.RFC3339),
		"categories": []string{"contact"}, "subjects": 12, "records": 30, "consequences": "Phishing",
		"measures": "Token revoked", "contact": "dpo@a.example"}
}

// incidentCtx is a context acting in tenantID as its admin, or as the operator for "".
func incidentCtx(tenantID string) context.Context {
	if tenantID == "" {
		return localContext()
	}
	return skjold.NewContextWithCaller(context.Background(), &skjold.Caller{Actor: "test", TenantID: tenantID, Scopes: skjold.AllScopes})
}

// incidentOf records an incident of tenantID ("" for the operator's, affecting tenants) and
// returns its id.
func (e *env) incidentOf(t *testing.T, tenantID string, tenants ...string) string {
	t.Helper()
	now := time.Now()
	inc := &skjold.Incident{Title: "Lost laptop", Description: "An unencrypted laptop was stolen.", DetectedAt: now.Add(-time.Hour),
		AwareAt: now.Add(-time.Hour), Categories: []string{"contact"}, Subjects: 3}
	if err := e.db.CreateIncident(incidentCtx(tenantID), inc, tenants); err != nil {
		t.Fatal(err)
	}
	return inc.ID
}

// incidentBuilder is the authorisation table's builder for a route about one incident: the
// caller's own (tenant A's, or the operator's for an operator), made afresh for every
// request, and tenant B's as the other.
func (e *env) incidentBuilder(suffix string, body any) builder {
	return builder{objects: true, tenantOnly: true, build: func(t *testing.T, c *caller, o object) request {
		id := missingID
		switch {
		case o == own && c.operator:
			id = e.incidentOf(t, "")
		case o == own:
			id = e.incidentOf(t, e.a.id)
		case o == other:
			id = e.incidentOf(t, e.b.id)
		}
		return request{path: "/api/v1/incidents/" + id + suffix, body: body}
	}}
}

// incidentAuthz are the authorisation table's requests for /api/v1/incidents.
func (e *env) incidentAuthz() map[string]builder {
	since := time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339)
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	return map[string]builder{
		"GET /api/v1/incidents": {build: func(*testing.T, *caller, object) request { return request{path: "/api/v1/incidents"} }},
		"POST /api/v1/incidents": {build: func(*testing.T, *caller, object) request {
			return request{path: "/api/v1/incidents", body: incidentBody()}
		}},
		"GET /api/v1/incidents/{id}": e.incidentBuilder("", nil),
		"PATCH /api/v1/incidents/{id}/decision": e.incidentBuilder("/decision",
			map[string]any{"notify_authority": true, "notify_subjects": false, "reason": "Low risk, but not nil"}),
		"GET /api/v1/incidents/{id}/timeline":  e.incidentBuilder("/timeline", nil),
		"POST /api/v1/incidents/{id}/timeline": e.incidentBuilder("/timeline", map[string]string{"text": "Token revoked"}),
		"POST /api/v1/incidents/{id}/scope": e.incidentBuilder("/scope",
			map[string]string{"address": "198.51.100.7", "since": since, "until": until}),
		"POST /api/v1/incidents/{id}/close":        e.incidentBuilder("/close", map[string]string{"note": "Handled"}),
		"GET /api/v1/incidents/{id}/drafts/{kind}": e.incidentBuilder("/drafts/breach-authority?lang=nb", nil),
		"POST /api/v1/incidents/{id}/acknowledge": {objects: true, tenantOnly: true, build: func(t *testing.T, c *caller, o object) request {
			id := missingID
			switch o {
			case own:
				id = e.incidentOf(t, "", e.a.id)
			case other:
				id = e.incidentOf(t, "", e.b.id)
			}
			return request{path: "/api/v1/incidents/" + id + "/acknowledge"}
		}},
	}
}

// TestIncidentAPI: the journey through the API (record → scope from the audit → decide →
// drafts → close), bad input refused without a change, and the clock's deadline math.
func TestIncidentAPI(t *testing.T) {
	e := newEnv(t)
	var inc skjold.Incident
	e.do(t, e.a.token, "POST", "/api/v1/incidents", incidentBody()).want(t, 201).decode(t, &inc)
	if inc.Status != "open" || !inc.Clock.Deadline.Equal(inc.AwareAt.Add(72*time.Hour)) || inc.Clock.Overdue || inc.Clock.Stopped {
		t.Fatalf("created: %+v", inc)
	}
	if left := time.Duration(inc.Clock.Remaining) * time.Second; left > 71*time.Hour || left < 70*time.Hour {
		t.Errorf("remaining %v an hour after becoming aware, want about 71 h", left)
	}
	// A reader token reads subjects; the incident is scoped to it by its id.
	reader := e.createToken(t, e.a.token, "leaky", skjold.ScopeRead)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna Andersen", "email": "anna@example.com"})
	e.do(t, reader.Secret, "GET", "/api/v1/subjects/"+sub.ID, nil).want(t, 200)
	window := map[string]string{"token": reader.ID, "since": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
		"until": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}
	var res skjold.IncidentScopeResult
	r := e.do(t, e.a.token, "POST", "/api/v1/incidents/"+inc.ID+"/scope", window).want(t, 200)
	r.decode(t, &res)
	if res.Subjects != 1 || len(res.SubjectIDs) != 1 || res.SubjectIDs[0] != sub.ID {
		t.Errorf("scope: %+v", res)
	}
	for _, v := range []string{"Anna", "anna@example.com"} {
		if strings.Contains(string(r.body), v) {
			t.Errorf("the scope answers a personal value %q: %s", v, r.body)
		}
	}
	// Tenant B scopes its own incident by A's token: it sees none of A's events.
	var incB skjold.Incident
	e.do(t, e.b.token, "POST", "/api/v1/incidents", incidentBody()).want(t, 201).decode(t, &incB)
	e.do(t, e.b.token, "POST", "/api/v1/incidents/"+incB.ID+"/scope", window).want(t, 200).decode(t, &res)
	if res.Events != 0 || res.Subjects != 0 {
		t.Errorf("tenant B's scoping sees tenant A's events: %+v", res)
	}
	e.do(t, e.b.token, "GET", "/api/v1/incidents/"+inc.ID, nil).wantError(t, 404, skjold.ENOTFOUND)

	e.unchanged(t, func() {
		for name, body := range map[string]map[string]any{
			"no title":     {"title": ""},
			"bad time":     {"aware_at": "yesterday"},
			"future":       {"aware_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
			"aware before": {"aware_at": time.Now().Add(-3 * time.Hour).UTC().Format(time.RFC3339)},
			"negative":     {"subjects": -4},
			"tenants":      {"tenants": []string{e.b.id}},
		} {
			b := incidentBody()
			for k, v := range body {
				b[k] = v
			}
			if got := e.do(t, e.a.token, "POST", "/api/v1/incidents", b); got.status != 400 {
				t.Errorf("%s: %d %s", name, got.status, got.body)
			}
		}
		e.do(t, e.a.token, "PATCH", "/api/v1/incidents/"+inc.ID+"/decision", map[string]any{"notify_authority": true, "reason": "x"}).
			wantError(t, 400, skjold.EINVALID)
		e.do(t, e.a.token, "POST", "/api/v1/incidents/"+inc.ID+"/scope", map[string]string{"token": reader.ID, "address": "192.0.2.1",
			"since": window["since"], "until": window["until"]}).wantError(t, 400, skjold.EINVALID)
		e.do(t, e.a.token, "GET", "/api/v1/incidents/"+inc.ID+"/drafts/breach-authority?lang=de", nil).wantError(t, 400, skjold.EINVALID)
	})
	e.do(t, e.a.token, "GET", "/api/v1/incidents/"+inc.ID+"/drafts/memo", nil).wantError(t, 404, skjold.ENOTFOUND)

	e.do(t, e.a.token, "PATCH", "/api/v1/incidents/"+inc.ID+"/decision",
		map[string]any{"notify_authority": true, "notify_subjects": true, "reason": "Contact data exposed"}).want(t, 200).decode(t, &inc)
	if inc.Decision == nil || inc.Clock.Stopped {
		t.Errorf("deciding to notify does not stop the clock until the authority is told: %+v", inc.Clock)
	}
	for _, lang := range []string{"en", "nb", "pl"} {
		var doc document.Document
		e.do(t, e.a.token, "GET", "/api/v1/incidents/"+inc.ID+"/drafts/breach-authority?lang="+lang, nil).want(t, 200).decode(t, &doc)
		body := strings.Join(doc.Lines(), "\n")
		for _, want := range []string{"A token was pasted", "contact", "12", "30", "Phishing", "Token revoked", "dpo@a.example", "Contact data exposed"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s authority draft lacks %q:\n%s", lang, want, body)
			}
		}
		if doc.Language != lang || doc.Version == "" || doc.Footer == "" {
			t.Errorf("%s draft: language %q version %q footer %q", lang, doc.Language, doc.Version, doc.Footer)
		}
		e.do(t, e.a.token, "GET", "/api/v1/incidents/"+inc.ID+"/drafts/breach-subjects?lang="+lang, nil).want(t, 200).decode(t, &doc)
		if body := strings.Join(doc.Lines(), "\n"); !strings.Contains(body, "Token revoked") || strings.Contains(body, "Contact data exposed") {
			t.Errorf("%s subjects draft:\n%s", lang, body)
		}
	}
	e.do(t, e.a.token, "POST", "/api/v1/incidents/"+inc.ID+"/close", map[string]string{"note": "Handled"}).want(t, 200).decode(t, &inc)
	if inc.Status != "closed" || !inc.Clock.Stopped {
		t.Errorf("closed: %+v", inc)
	}
	e.do(t, e.a.token, "POST", "/api/v1/incidents/"+inc.ID+"/close", map[string]string{"note": "again"}).wantError(t, 409, skjold.ECONFLICT)
	var line struct{ Items []skjold.IncidentEntry }
	e.do(t, e.a.token, "GET", "/api/v1/incidents/"+inc.ID+"/timeline", nil).want(t, 200).decode(t, &line)
	if len(line.Items) != 4 || line.Items[0].Kind != "created" || line.Items[3].Kind != "closed" {
		t.Errorf("timeline: %+v", line.Items)
	}
}

// docText is every string of a document, for tests.

// TestIncidentClockAlerts: the hourly pass raises the 12-hours-left alert and the overdue
// alert once each, and both reach the alert dispatcher's e-mail.
func TestIncidentClockAlerts(t *testing.T) {
	e := newEnv(t)
	aware := e.clock.Now().Truncate(time.Second).Add(-60 * time.Hour).Add(time.Minute) // 12 h 1 min left
	inc := &skjold.Incident{Title: "Lost laptop", Description: "Stolen.", DetectedAt: aware, AwareAt: aware}
	if err := e.db.CreateIncident(incidentCtx(e.a.id), inc, nil); err != nil {
		t.Fatal(err)
	}
	count := func(action string) int {
		var list struct{ Items []skjold.AuditEvent }
		e.do(t, e.operator, "GET", "/api/v1/audit?action="+action, nil).want(t, 200).decode(t, &list)
		return len(list.Items)
	}
	pass := func() {
		t.Helper()
		if _, err := e.db.FlagIncidentDeadlines(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	pass()
	if count("incident.deadline_near") != 0 {
		t.Fatal("the warning came more than 12 hours before the deadline")
	}
	e.clock.Advance(time.Minute)
	pass()
	pass()
	e.clock.Advance(11 * time.Hour)
	pass()
	if n, m := count("incident.deadline_near"), count("incident.overdue"); n != 1 || m != 0 {
		t.Fatalf("12 h before: %d warnings, %d overdue; want 1, 0", n, m)
	}
	e.clock.Advance(time.Hour)
	pass()
	pass()
	if n, m := count("incident.deadline_near"), count("incident.overdue"); n != 1 || m != 1 {
		t.Fatalf("at the deadline: %d warnings, %d overdue; want 1, 1", n, m)
	}
	var got skjold.Incident
	e.do(t, e.a.token, "GET", "/api/v1/incidents/"+inc.ID, nil).want(t, 200).decode(t, &got)
	if !got.Clock.Overdue || got.Clock.Remaining > 0 || !got.Clock.Deadline.Equal(aware.Add(72*time.Hour)) {
		t.Errorf("clock after the deadline: %+v", got.Clock)
	}
}

func init() {
	consoleRequestSets = append(consoleRequestSets, func(e *env, t *testing.T) map[string]consoleBuild {
		one := func(suffix string, form url.Values) consoleBuild {
			return func(t *testing.T, c *consoleCaller, o object) consoleCall {
				id := missingID
				switch {
				case o == own && c.op:
					id = e.incidentOf(t, "")
				case o == own:
					id = e.incidentOf(t, e.a.id)
				case o == other:
					id = e.incidentOf(t, e.b.id)
				}
				return consoleCall{path: "/console/incidents/" + id + suffix, form: form}
			}
		}
		scope := url.Values{"who": {"address"}, "scope_id": {"198.51.100.7"}, "scope_since": {time.Now().Add(-time.Hour).UTC().Format(consoleTime)},
			"scope_until": {time.Now().Add(time.Hour).UTC().Format(consoleTime)}}
		return map[string]consoleBuild{
			"GET /console/incidents": func(*testing.T, *consoleCaller, object) consoleCall { return consoleCall{path: "/console/incidents"} },
			"POST /console/incidents": func(*testing.T, *consoleCaller, object) consoleCall {
				now := time.Now().UTC()
				return consoleCall{path: "/console/incidents", form: url.Values{"title": {"Lost laptop"}, "description": {"Stolen"},
					"detected_at": {now.Add(-time.Hour).Format(consoleTime)}, "aware_at": {now.Add(-time.Hour).Format(consoleTime)}}}
			},
			"GET /console/incidents/{id}":               one("", nil),
			"POST /console/incidents/{id}/note":         one("/note", url.Values{"text": {"Token revoked"}}),
			"POST /console/incidents/{id}/decision":     one("/decision", url.Values{"reason": {"Encrypted"}}),
			"POST /console/incidents/{id}/scope":        one("/scope", scope),
			"POST /console/incidents/{id}/close":        one("/close", url.Values{"note": {"Handled"}}),
			"GET /console/incidents/{id}/drafts/{kind}": one("/drafts/breach-subjects?lang=pl", nil),
			"POST /console/incidents/{id}/acknowledge": func(t *testing.T, c *consoleCaller, o object) consoleCall {
				id := missingID
				switch o {
				case own:
					id = e.incidentOf(t, "", e.a.id)
				case other:
					id = e.incidentOf(t, "", e.b.id)
				}
				return consoleCall{path: "/console/incidents/" + id + "/acknowledge", form: url.Values{}}
			},
		}
	})
}
