package http

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// fileGrantRequest files a request for tenantID as a fresh operator support person, through
// the store, and returns its id.
func (e *env) fileGrantRequest(t *testing.T, tenantID string) string {
	t.Helper()
	s := e.newStaff(t, "", skjold.RoleSupport, "")
	ctx := skjold.NewContextWithCaller(context.Background(), &skjold.Caller{Actor: "user:" + s.user.ID, UserID: s.user.ID,
		Operator: true, Role: skjold.RoleSupport, Scopes: skjold.RoleScopes(true, skjold.RoleSupport)})
	r := &skjold.GrantRequest{TenantID: tenantID, Reason: "ticket 99", Hours: 1}
	if err := e.db.RequestGrant(ctx, r); err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// The grant request pages' requests for the route × caller matrix: an operator person asks
// tenant A (a second ask by the same person waits on the first: 409); a tenant admin decides
// a fresh request of tenant A, or tenant B's (404, as a missing one).
func init() {
	consoleRequestSets = append(consoleRequestSets, func(e *env, t *testing.T) map[string]consoleBuild {
		decide := func(action string, form url.Values) consoleBuild {
			return func(t *testing.T, c *consoleCaller, o object) consoleCall {
				id := missingID
				switch o {
				case own:
					id = e.fileGrantRequest(t, e.a.id)
				case other:
					id = e.fileGrantRequest(t, e.b.id)
				}
				return consoleCall{path: "/console/grant-requests/" + id + "/" + action, form: form}
			}
		}
		return map[string]consoleBuild{
			"GET /console/operator/grant-requests": func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: "/console/operator/grant-requests"}
			},
			"POST /console/operator/grant-requests": func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: "/console/operator/grant-requests", form: url.Values{"tenant_id": {e.a.id},
					"reason": {"matrix ticket"}, "hours": {"1"}}, refusals: []int{409}}
			},
			"GET /console/grant-requests": func(*testing.T, *consoleCaller, object) consoleCall {
				return consoleCall{path: "/console/grant-requests"}
			},
			"POST /console/grant-requests/{id}/approve": decide("approve", url.Values{}),
			"POST /console/grant-requests/{id}/deny":    decide("deny", url.Values{"reason": {"not now, thanks"}}),
		}
	})
}

// TestGrantRequestAPI: support staff ask over the API, the tenant's admin sees and approves
// it (a live grant the requester works under), another is denied with a reason the
// requester reads; the wrong callers are refused and bad input changes nothing.
func TestGrantRequestAPI(t *testing.T) {
	e := newEnv(t)
	sup := e.activeStaff(t, "", skjold.RoleSupport, "")
	admin := e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
	agent := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	adminB := e.activeStaff(t, e.b.id, skjold.RoleAdmin, "")

	body := map[string]any{"tenant_id": e.a.id, "reason": "ticket 4711", "hours": 3}
	e.do(t, e.operator, "POST", "/api/v1/operator/grant-requests", body).want(t, 403) // a token is no person
	e.do(t, admin.session, "POST", "/api/v1/operator/grant-requests", body).want(t, 403)
	e.do(t, sup.session, "POST", "/api/v1/operator/grant-requests", map[string]any{"tenant_id": e.a.id, "reason": "x", "hours": 3}).want(t, 400)
	e.do(t, sup.session, "POST", "/api/v1/operator/grant-requests", map[string]any{"tenant_id": e.a.id, "reason": "ticket", "hours": 99}).want(t, 400)
	var gr skjold.GrantRequest
	e.do(t, sup.session, "POST", "/api/v1/operator/grant-requests", body).want(t, 201).decode(t, &gr)
	if gr.Status != "pending" || gr.UserID != sup.user.ID {
		t.Fatalf("filed = %+v", gr)
	}
	e.do(t, sup.session, "POST", "/api/v1/operator/grant-requests", body).want(t, 409)
	if mail := e.mailTo(t, admin.user.Email); !strings.Contains(mail, "ticket 4711") || !strings.Contains(mail, "Tenant A") {
		t.Errorf("admin's e-mail: %s", mail)
	}

	var list struct{ Items []skjold.GrantRequest }
	e.do(t, admin.session, "GET", "/api/v1/operator/grant-requests", nil).want(t, 200).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != gr.ID {
		t.Fatalf("tenant's list = %+v", list.Items)
	}
	e.do(t, adminB.session, "GET", "/api/v1/operator/grant-requests", nil).want(t, 200).decode(t, &list)
	if len(list.Items) != 0 {
		t.Errorf("tenant B sees %+v", list.Items)
	}
	e.do(t, agent.session, "GET", "/api/v1/operator/grant-requests", nil).want(t, 403)
	e.do(t, adminB.session, "POST", "/api/v1/operator/grant-requests/"+gr.ID+"/approve", nil).want(t, 404)
	e.do(t, agent.session, "POST", "/api/v1/operator/grant-requests/"+gr.ID+"/approve", nil).want(t, 403)
	e.do(t, sup.session, "POST", "/api/v1/operator/grant-requests/"+gr.ID+"/approve", nil).want(t, 403)

	var g skjold.Grant
	e.do(t, admin.session, "POST", "/api/v1/operator/grant-requests/"+gr.ID+"/approve", nil).want(t, 201).decode(t, &g)
	if g.UserID != sup.user.ID || g.TenantID != e.a.id {
		t.Errorf("grant = %+v", g)
	}
	e.do(t, admin.session, "POST", "/api/v1/operator/grant-requests/"+gr.ID+"/deny", map[string]string{"reason": "changed my mind"}).want(t, 409)
	// The requester now works under the grant.
	e.doWith(t, sup.session, map[string][]string{"Skjold-Tenant": {e.a.id}}, "GET", "/api/v1/categories", nil).want(t, 200)

	body["reason"] = "ticket 4712"
	e.do(t, sup.session, "POST", "/api/v1/operator/grant-requests", body).want(t, 201).decode(t, &gr)
	e.do(t, admin.session, "POST", "/api/v1/operator/grant-requests/"+gr.ID+"/deny", map[string]string{}).want(t, 400)
	e.do(t, admin.session, "POST", "/api/v1/operator/grant-requests/"+gr.ID+"/deny", map[string]string{"reason": "fixed it ourselves"}).want(t, 204)
	e.do(t, sup.session, "GET", "/api/v1/operator/grant-requests", nil).want(t, 200).decode(t, &list)
	if len(list.Items) != 2 || list.Items[0].Status != "denied" || list.Items[0].DenyReason != "fixed it ourselves" ||
		list.Items[1].Status != "approved" || list.Items[1].GrantID != g.ID || list.Items[0].TenantName != "Tenant A" {
		t.Errorf("requester's list = %+v", list.Items)
	}
}

// TestConsoleGrantRequests: a support person asks in the console (a bad reason shown next
// to its field), the tenant's admin sees it on their page and approves it, the next is
// denied with a reason, and the requester's page shows both outcomes.
func TestConsoleGrantRequests(t *testing.T) {
	e := newEnv(t)
	op, _ := e.operatorConsole(t, skjold.RoleSupport)
	r := op.get(t, "/console/operator/grant-requests").want(t, 200)
	wantText(t, r, "Ask a tenant for support access", "Tenant A", "You have asked for nothing yet")
	r = op.post(t, "/console/operator/grant-requests", url.Values{"tenant_id": {e.a.id}, "reason": {"x"}, "hours": {"2"}}).want(t, 400)
	if !strings.Contains(string(r.body), `id="reason-error"`) {
		t.Errorf("the reason's error is not next to it: %.1500s", text(r.body))
	}
	op.post(t, "/console/operator/grant-requests", url.Values{"tenant_id": {e.a.id}, "reason": {"ticket 4711"}, "hours": {"2"}}).
		wantRedirect(t, "/console/operator/grant-requests?m=grant_request_filed")
	wantText(t, op.get(t, "/console/operator/grant-requests?m=grant_request_filed").want(t, 200), "Your request is sent", "Waiting")

	admin := e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
	ac := e.consoleClient(t)
	ac.login(t, admin)
	r = ac.get(t, "/console/grant-requests").want(t, 200)
	wantText(t, r, "Support requests", "ticket 4711", "Approve", "Deny")
	id := regexpFirst(string(r.body), `action="/console/grant-requests/([^/"]+)/approve"`)
	if id == "" {
		t.Fatal("no request to approve on the admin's page")
	}
	ac.post(t, "/console/grant-requests/"+id+"/approve", url.Values{}).wantRedirect(t, "/console/grant-requests?m=grant_request_approved")
	r = ac.post(t, "/console/grant-requests/"+id+"/deny", url.Values{"reason": {"too late"}}).want(t, 409)
	wantText(t, r, "decided already or has lapsed")

	op.post(t, "/console/operator/grant-requests", url.Values{"tenant_id": {e.a.id}, "reason": {"ticket 4712"}, "hours": {"1"}}).want(t, 303)
	r = ac.get(t, "/console/grant-requests").want(t, 200)
	id = regexpFirst(string(r.body), `action="/console/grant-requests/([^/"]+)/deny"`)
	r = ac.post(t, "/console/grant-requests/"+id+"/deny", url.Values{"reason": {""}}).want(t, 400)
	if !strings.Contains(string(r.body), `id="reason-`+id+`-error"`) {
		t.Errorf("the deny reason's error is not next to it: %.1500s", text(r.body))
	}
	ac.post(t, "/console/grant-requests/"+id+"/deny", url.Values{"reason": {"fixed it ourselves"}}).want(t, 303)

	r = op.get(t, "/console/operator/grant-requests").want(t, 200)
	wantText(t, r, "Approved", "Denied", "Reason: fixed it ourselves")
	wantText(t, op.get(t, "/console/operator/grants").want(t, 200), "Tenant A", "Work in this tenant")
}

// regexpFirst returns the first group of pattern's first match in s, or "".
func regexpFirst(s, pattern string) string {
	if m := regexp.MustCompile(pattern).FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// decideRequest builds a decision on a fresh request of tenant A (own) or B (other), which
// only a tenant admin in person makes.
func decideRequest(e *env, suffix string, body any) builder {
	b := fresh("/api/v1/operator/grant-requests/", suffix, body,
		func(t *testing.T) string { return e.fileGrantRequest(t, e.a.id) },
		func(t *testing.T) string { return e.fileGrantRequest(t, e.b.id) })
	build := b.build
	b.build = func(t *testing.T, c *caller, o object) request {
		r := build(t, c, o)
		if c.person == nil && !c.operator {
			r.refusal = 403
		}
		return r
	}
	return b
}
