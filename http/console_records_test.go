package http

import (
	"net/url"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// The record forms of the subject's page: change and delete, through the same record
// service as PATCH and DELETE /api/v1/records/{id}.

func init() {
	consoleRequestSets = append(consoleRequestSets, func(e *env, t *testing.T) map[string]consoleBuild {
		// onRecord makes a request on a fresh record of a fresh subject of tenant A (own) or
		// B (other).
		onRecord := func(action string, form url.Values, refusals ...int) consoleBuild {
			return func(t *testing.T, c *consoleCaller, o object) consoleCall {
				sub, rec := missingID, missingID
				token := e.a.token
				if o == other {
					token = e.b.token
				}
				if o != missing {
					sub = e.createSubject(t, token, map[string]string{"name": "Rita Record"}).ID
					rec = e.createRecord(t, token, sub, map[string]any{"category": "enquiry",
						"data": map[string]string{"message": "Hi"}}).ID
				}
				return consoleCall{path: "/console/subjects/" + sub + "/records/" + rec + action, form: form, refusals: refusals}
			}
		}
		return map[string]consoleBuild{
			"POST /console/subjects/{id}/records/{record}/edit":   onRecord("/edit", url.Values{"topic": {"price"}}),
			"POST /console/subjects/{id}/records/{record}/delete": onRecord("/delete", url.Values{"confirm": {"yes"}}),
		}
	})
}

// getRecord reads a record of tenant A through the API with purpose, or answers nil when
// it is gone.
func (e *env) getRecord(t *testing.T, id, purpose string) *skjold.Record {
	t.Helper()
	r := e.do(t, e.a.token, "GET", "/api/v1/records/"+id+"?purpose="+purpose, nil)
	if r.status == 404 {
		return nil
	}
	var rec skjold.Record
	r.want(t, 200).decode(t, &rec)
	return &rec
}

// TestConsoleRecordEdit changes a record through its form, pre-filled from the category's
// fields: a value the record service refuses is named next to its field and nothing
// changes; a purpose-bound field is in the form only once a purpose was stated, and a
// change without it leaves that field as it was; the change is audited as the API's.
func TestConsoleRecordEdit(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna Berg"})
	course := e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "training_enrollment",
		"data": map[string]any{"course": "First aid", "start_date": "2026-03-01", "completed": false}})
	ident := e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "identity",
		"data": map[string]any{"first_name": "Anna", "birth_date": "1980-05-17"}})
	agent := e.activeStaff(t, e.a.id, skjold.RoleAgent, "")
	c := e.consoleClient(t)
	c.login(t, agent)

	page := c.get(t, "/console/subjects/"+sub.ID).want(t, 200)
	checkPage(t, page)
	body := string(page.body)
	for _, want := range []string{
		`action="/console/subjects/` + sub.ID + `/records/` + course.ID + `/edit"`,
		`id="r-` + course.ID + `-course" name="course" type="text" value="First aid"`,
		`id="r-` + course.ID + `-start_date" name="start_date" type="date" value="2026-03-01"`,
		`id="r-` + ident.ID + `-first_name"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(body, `id="r-`+ident.ID+`-birth_date"`) || strings.Contains(body, "1980-05-17") {
		t.Error("the edit form holds the birth date without a purpose")
	}
	shown := c.post(t, "/console/subjects/"+sub.ID+"/reveal", url.Values{"purpose": {"credit_check"}}).want(t, 200)
	if !strings.Contains(string(shown.body), `id="r-`+ident.ID+`-birth_date" name="birth_date" type="date" value="1980-05-17"`) ||
		!strings.Contains(string(shown.body), `name="purpose" value="credit_check"`) {
		t.Errorf("with the purpose stated, the edit form lacks the birth date or the purpose: %.2000s", text(shown.body))
	}

	events := e.auditLength(t)
	bad := c.post(t, "/console/subjects/"+sub.ID+"/records/"+course.ID+"/edit",
		url.Values{"course": {"First aid II"}, "start_date": {"01.03.2026"}}).want(t, 400)
	checkPage(t, bad)
	wantFieldError(t, bad, "r-"+course.ID+"-start_date", "Enter a date as YYYY-MM-DD.")
	if !strings.Contains(string(bad.body), `value="01.03.2026"`) {
		t.Error("the refused form lost the value typed")
	}
	if got := e.getRecord(t, course.ID, ""); got.Data["course"] != "First aid" {
		t.Errorf("a refused form changed the record: %v", got.Data)
	}
	if e.auditLength(t) == events {
		t.Error("the refused change's page was not audited as a read")
	}
	req := c.post(t, "/console/subjects/"+sub.ID+"/records/"+course.ID+"/edit", url.Values{"course": {""}}).want(t, 400)
	if fieldError(req, "r-"+course.ID+"-course") == "" {
		t.Error("emptying a required field is not refused next to it")
	}

	c.post(t, "/console/subjects/"+sub.ID+"/records/"+course.ID+"/edit", url.Values{"course": {"First aid II"},
		"start_date": {"2026-03-02"}, "end_date": {""}, "completed": {"true"}}).wantRedirect(t, "/console/subjects/"+sub.ID+"?m=record_saved")
	got := e.getRecord(t, course.ID, "")
	if got.Data["course"] != "First aid II" || got.Data["start_date"] != "2026-03-02" || got.Data["completed"] != true {
		t.Errorf("after the change: %v", got.Data)
	}
	if ev := e.lastEvent(t, sub.ID, "record.update"); ev.Actor != "user:"+agent.user.ID || ev.RecordID != course.ID {
		t.Errorf("the change is audited as %+v", ev)
	}
	wantText(t, c.get(t, "/console/subjects/"+sub.ID+"?m=record_saved").want(t, 200), "The record is saved.", "First aid II")

	// Without a purpose the form has no birth date: a change leaves it as it was.
	c.post(t, "/console/subjects/"+sub.ID+"/records/"+ident.ID+"/edit", url.Values{"first_name": {"Anne"}}).
		wantRedirect(t, "/console/subjects/"+sub.ID)
	if got := e.getRecord(t, ident.ID, "credit_check"); got.Data["first_name"] != "Anne" || got.Data["birth_date"] != "1980-05-17" {
		t.Errorf("after a change without the purpose: %v", got.Data)
	}
	// With it, the birth date may be changed; a purpose outside the register is refused.
	c.post(t, "/console/subjects/"+sub.ID+"/records/"+ident.ID+"/edit", url.Values{"birth_date": {"1980-05-18"},
		"purpose": {"credit_check"}}).wantRedirect(t, "/console/subjects/"+sub.ID)
	if got := e.getRecord(t, ident.ID, "credit_check"); got.Data["birth_date"] != "1980-05-18" {
		t.Errorf("the birth date after its change: %v", got.Data)
	}
	c.post(t, "/console/subjects/"+sub.ID+"/records/"+ident.ID+"/edit", url.Values{"birth_date": {"1980-05-19"},
		"purpose": {"not_registered"}}).want(t, 400)

	// A record of another subject, or of another tenant, is missing here.
	other := e.createSubject(t, e.a.token, map[string]string{"name": "Other"})
	c.post(t, "/console/subjects/"+other.ID+"/records/"+course.ID+"/edit", url.Values{"course": {"X"}}).want(t, 404)
	subB := e.createSubject(t, e.b.token, map[string]string{"name": "Bjørn"})
	recB := e.createRecord(t, e.b.token, subB.ID, map[string]any{"category": "enquiry", "data": map[string]string{"message": "Hei"}})
	c.post(t, "/console/subjects/"+subB.ID+"/records/"+recB.ID+"/edit", url.Values{"message": {"X"}}).want(t, 404)
	if got := e.getRecord(t, course.ID, ""); got.Data["course"] != "First aid II" {
		t.Errorf("a refused change reached the record: %v", got.Data)
	}
}

// TestConsoleRecordDelete deletes a record once the box confirms it, audited as the API's
// delete; the restriction refuses it with the message next to the box.
func TestConsoleRecordDelete(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna Berg"})
	rec := e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "enquiry", "data": map[string]string{"message": "Hi"}})
	admin := e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
	c := e.consoleClient(t)
	c.login(t, admin)
	path := "/console/subjects/" + sub.ID + "/records/" + rec.ID + "/delete"

	unconfirmed := c.post(t, path, url.Values{}).want(t, 400)
	checkPage(t, unconfirmed)
	wantFieldError(t, unconfirmed, "del-"+rec.ID, "Tick the box")
	if e.getRecord(t, rec.ID, "") == nil {
		t.Fatal("an unconfirmed delete deleted the record")
	}

	c.post(t, "/console/subjects/"+sub.ID+"/restriction", url.Values{"on": {"true"}}).wantRedirect(t, "/console/subjects/"+sub.ID)
	restricted := c.post(t, path, url.Values{"confirm": {"yes"}})
	if restricted.status == 303 || e.getRecord(t, rec.ID, "legal_claims") == nil {
		t.Fatal("a restricted subject's record was deleted")
	}
	c.post(t, "/console/subjects/"+sub.ID+"/restriction", url.Values{"on": {"false"}}).wantRedirect(t, "/console/subjects/"+sub.ID)

	c.post(t, path, url.Values{"confirm": {"yes"}}).wantRedirect(t, "/console/subjects/"+sub.ID+"?m=record_deleted")
	if e.getRecord(t, rec.ID, "") != nil {
		t.Error("the record is still there")
	}
	if ev := e.lastEvent(t, sub.ID, "record.delete"); ev.Actor != "user:"+admin.user.ID || ev.RecordID != rec.ID {
		t.Errorf("the delete is audited as %+v", ev)
	}
	wantText(t, c.get(t, "/console/subjects/"+sub.ID+"?m=record_deleted").want(t, 200), "The record is deleted.")
	c.post(t, path, url.Values{"confirm": {"yes"}}).want(t, 404)
}

// TestConsoleRecordFormsRefused shows no record form to a person whose role may not write
// nor to operator support working under a (read-only) support grant, and refuses their
// posts with the 403 page and no change.
func TestConsoleRecordFormsRefused(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna Berg"})
	rec := e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "enquiry", "data": map[string]string{"message": "Hi"}})
	e.do(t, e.a.token, "PUT", "/api/v1/profiles/reader", map[string]any{"scopes": []string{skjold.ScopeRead}}).want(t, 201)
	reader := e.activeStaff(t, e.a.id, skjold.RoleCustom, "reader")
	rc := e.consoleClient(t)
	rc.login(t, reader)

	sc, support := e.operatorConsole(t, skjold.RoleSupport)
	admin := e.activeStaff(t, e.a.id, skjold.RoleAdmin, "")
	grant := e.grant(t, admin, support.user.ID)
	sc.post(t, "/console/operator/grants/"+grant+"/enter", url.Values{}).wantRedirect(t, "/console/")

	for name, c := range map[string]*consoleClient{"reader": rc, "support under a grant": sc} {
		page := c.get(t, "/console/subjects/"+sub.ID).want(t, 200)
		if strings.Contains(string(page.body), "/records/"+rec.ID+"/") {
			t.Errorf("%s sees a record form", name)
		}
		base := "/console/subjects/" + sub.ID + "/records/" + rec.ID
		c.post(t, base+"/edit", url.Values{"message": {"Changed"}}).want(t, 403)
		c.post(t, base+"/delete", url.Values{"confirm": {"yes"}}).want(t, 403)
		if got := e.getRecord(t, rec.ID, ""); got == nil || got.Data["message"] != "Hi" {
			t.Errorf("%s changed or deleted the record: %v", name, got)
		}
	}
}
