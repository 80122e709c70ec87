package http

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// badBody is a request body that every route with a body refuses, whatever its fields.
type badBody struct {
	name   string
	body   string
	status int
	code   string
	field  string // the field the error names, if any
}

var badBodies = []badBody{
	{"malformed", `{"name":`, 400, skjold.EINVALID, ""},
	{"malformed value", `{"name":nope}`, 400, skjold.EINVALID, ""},
	{"empty", ``, 400, skjold.EINVALID, ""},
	{"only spaces", "  \n", 400, skjold.EINVALID, ""},
	{"unknown field", `{"nickname_x":"Ann"}`, 400, skjold.EINVALID, "nickname_x"},
	{"unknown nested field", `{"fields":[{"nme":"x"}]}`, 400, skjold.EINVALID, ""},
	{"field name in another case", `{"NAME":"Ann"}`, 400, skjold.EINVALID, "NAME"},
	{"field given twice", `{"name":"Ann","name":"Bo"}`, 400, skjold.EINVALID, ""},
	{"data key given twice", `{"data":{"city":"Oslo","city":"Bergen"}}`, 400, skjold.EINVALID, ""},
	{"invalid UTF-8", "{\"name\":\"\xff\xfe\"}", 400, skjold.EINVALID, ""},
	{"invalid UTF-8 in a key", "{\"\xc3\x28\":1}", 400, skjold.EINVALID, ""},
	{"array", `[]`, 400, skjold.EINVALID, ""},
	{"string", `"subject"`, 400, skjold.EINVALID, ""},
	{"number", `42`, 400, skjold.EINVALID, ""},
	{"null", `null`, 400, skjold.EINVALID, ""},
	{"two values", `{} {}`, 400, skjold.EINVALID, ""},
	{"trailing garbage", `{}x`, 400, skjold.EINVALID, ""},
	{"trailing bracket", `{}]`, 400, skjold.EINVALID, ""},
	{"over 1 MiB", `{"name":"` + strings.Repeat("a", MaxBodySize) + `"}`, 413, skjold.ETOOLARGE, ""},
}

// bodyRequests returns, for every route with a request body, a path on tenant A's objects and
// the token that may call it.
func (e *env) bodyRequests(t *testing.T) map[string][2]string {
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna"})
	rec := e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "contact", "data": map[string]string{"city": "Oslo"}})
	owner := e.activeStaff(t, e.a.id, skjold.RoleOwner, "") // a person, for the routes of one's own account
	agent := e.newStaff(t, e.a.id, skjold.RoleAgent, "")
	support := e.activeStaff(t, "", skjold.RoleSupport, "") // an operator person, who asks tenants for access
	incA := e.incidentOf(t, e.a.id)
	m := map[string][2]string{
		"POST /api/v1/operator/grant-requests":           {"/api/v1/operator/grant-requests", support.session},
		"POST /api/v1/operator/grant-requests/{id}/deny": {"/api/v1/operator/grant-requests/" + e.fileGrantRequest(t, e.a.id) + "/deny", owner.session},
		"PUT /api/v1/operator/alerts":                    {"/api/v1/operator/alerts", e.operator},
		"POST /api/v1/auth/login":                        {"/api/v1/auth/login", ""},
		"POST /api/v1/auth/second-factor":                {"/api/v1/auth/second-factor", owner.session},
		"POST /api/v1/auth/unlock":                       {"/api/v1/auth/unlock", owner.session},
		"POST /api/v1/auth/email-confirmation":           {"/api/v1/auth/email-confirmation", owner.session},
		"POST /api/v1/auth/password":                     {"/api/v1/auth/password", owner.session},
		"POST /api/v1/auth/two-factor/confirm":           {"/api/v1/auth/two-factor/confirm", owner.session},
		"POST /api/v1/auth/reset":                        {"/api/v1/auth/reset", ""},
		"POST /api/v1/auth/reset/complete":               {"/api/v1/auth/reset/complete", ""},
		"POST /api/v1/users":                             {"/api/v1/users", e.a.token},
		"PATCH /api/v1/users/{id}":                       {"/api/v1/users/" + agent.user.ID, e.a.token},
		"PUT /api/v1/settings/session":                   {"/api/v1/settings/session", e.a.token},
		"PUT /api/v1/settings/read-budget":               {"/api/v1/settings/read-budget", e.a.token},
		"PUT /api/v1/compliance/profile":                 {"/api/v1/compliance/profile", e.a.token},
		"POST /api/v1/compliance/measures":               {"/api/v1/compliance/measures", e.a.token},
		"POST /api/v1/maintenance":                       {"/api/v1/maintenance", e.operator},
		"POST /api/v1/incidents":                         {"/api/v1/incidents", e.a.token},
		"PATCH /api/v1/incidents/{id}/decision":          {"/api/v1/incidents/" + incA + "/decision", e.a.token},
		"POST /api/v1/incidents/{id}/timeline":           {"/api/v1/incidents/" + incA + "/timeline", e.a.token},
		"POST /api/v1/incidents/{id}/scope":              {"/api/v1/incidents/" + incA + "/scope", e.a.token},
		"POST /api/v1/incidents/{id}/close":              {"/api/v1/incidents/" + incA + "/close", e.a.token},
		"POST /api/v1/approvals":                         {"/api/v1/approvals", owner.session},
		"POST /api/v1/grants":                            {"/api/v1/grants", owner.session},
		"PUT /api/v1/blocklist":                          {"/api/v1/blocklist", e.operator},
		"POST /api/v1/tenants":                           {"/api/v1/tenants", e.operator},
		"POST /api/v1/tokens":                            {"/api/v1/tokens", e.a.token},
		"PUT /api/v1/categories/{name}":                  {"/api/v1/categories/contact", e.a.token},
		"PUT /api/v1/subjects/{id}/relationship":         {"/api/v1/subjects/" + sub.ID + "/relationship", e.a.token},
		"POST /api/v1/subjects":                          {"/api/v1/subjects", e.a.token},
		"POST /api/v1/import":                            {"/api/v1/import", e.a.token},
		"PATCH /api/v1/subjects/{id}":                    {"/api/v1/subjects/" + sub.ID, e.a.token},
		"POST /api/v1/subjects/{id}/records":             {"/api/v1/subjects/" + sub.ID + "/records", e.a.token},
		"PATCH /api/v1/records/{id}":                     {"/api/v1/records/" + rec.ID, e.a.token},
		"POST /api/v1/holds":                             {"/api/v1/holds", e.a.token},
		"PUT /api/v1/purposes/{name}":                    {"/api/v1/purposes/newsletter", e.a.token},
		"PUT /api/v1/profiles/{name}":                    {"/api/v1/profiles/bodies", e.a.token},
		"POST /api/v1/subjects/{id}/consents":            {"/api/v1/subjects/" + sub.ID + "/consents", e.a.token},
		"POST /api/v1/contact-check":                     {"/api/v1/contact-check", e.a.token},
		"POST /api/v1/contact-sms":                       {"/api/v1/contact-sms", e.a.token},
		"POST /api/v1/requests":                          {"/api/v1/requests", e.a.token},
		"POST /api/v1/requests/{id}/verify":              {"/api/v1/requests/" + missingID + "/verify", ""},
		"POST /api/v1/requests/{id}/extend":              {"/api/v1/requests/" + missingID + "/extend", e.a.token},
		"POST /api/v1/requests/{id}/refuse":              {"/api/v1/requests/" + missingID + "/refuse", e.a.token},
		"POST /api/v1/requests/{id}/complete":            {"/api/v1/requests/" + missingID + "/complete", e.a.token},
		"PUT /api/v1/settings/privacy":                   {"/api/v1/settings/privacy", e.a.token},
		"PUT /api/v1/settings/banner":                    {"/api/v1/settings/banner", e.a.token},
	}
	for k, v := range e.dpaBodyRequests(owner) { // the DPA, sub-processors and registers (dpa_test.go)
		m[k] = v
	}
	return m
}

// TestDecodeRefusesBadBodies sends every bad body, and bodies of the wrong media type, to
// every route that takes a body: each is refused with a JSON error and changes nothing.
func TestDecodeRefusesBadBodies(t *testing.T) {
	e := newEnv(t)
	requests := e.bodyRequests(t)
	for _, rt := range testRoutes() {
		if obj(operation(t, rt.pattern), "requestBody") == nil {
			continue
		}
		req, ok := requests[rt.pattern]
		if !ok {
			t.Errorf("no request for %s: add one to bodyRequests", rt.pattern)
			continue
		}
		method, _, _ := strings.Cut(rt.pattern, " ")
		path, token := req[0], req[1]
		for _, c := range badBodies {
			t.Run(rt.pattern+"/"+c.name, func(t *testing.T) {
				e.unchanged(t, func() {
					got := e.do(t, token, method, path, c.body).wantError(t, c.status, c.code)
					if c.field != "" && (got.Field != c.field || got.Rule != "unknown") {
						t.Errorf("error %+v does not name unknown field %q", got, c.field)
					}
					if c.status == 413 && strings.Contains(got.Message, "aaaa") {
						t.Errorf("error message quotes the body: %q", got.Message)
					}
				})
			})
		}
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/jsonx", "json", "application/json; charset"} {
			t.Run(rt.pattern+"/Content-Type "+ct, func(t *testing.T) {
				h := http.Header{"Authorization": {"Bearer " + token}}
				if ct != "" {
					h.Set("Content-Type", ct)
				}
				e.unchanged(t, func() { e.send(t, method, path, h, []byte(`{"name":"x"}`)).wantError(t, 415, skjold.EUNSUPPORTED) })
			})
		}
	}
}

// TestDecodeAcceptsJSONMediaTypes checks the media type's parameters and case do not matter.
func TestDecodeAcceptsJSONMediaTypes(t *testing.T) {
	e := newEnv(t)
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON"} {
		h := http.Header{"Authorization": {"Bearer " + e.a.token}, "Content-Type": {ct}}
		e.send(t, "POST", "/api/v1/subjects", h, []byte(`{"name":"Anna"}`)).want(t, 201)
	}
}

// subjectCreateRequest and recordCreateRequest have the shapes of the request types of
// handleSubjectCreate and handleRecordCreate (TestOpenAPIRequestSchemasMatchHandlers checks
// the handlers have these fields).
type subjectCreateRequest struct {
	Ref        string `json:"ref"`
	Email      string `json:"email"`
	Phone      string `json:"phone"`
	Name       string `json:"name"`
	BirthDate  string `json:"birth_date"`
	GuardianID string `json:"guardian_id"`
}

type recordCreateRequest struct {
	Category string         `json:"category"`
	Data     map[string]any `json:"data"`
}

// jsonSeeds are the bodies both fuzz tests start from: the bad ones and some good ones.
func jsonSeeds() []string {
	seeds := []string{
		`{"name":"Anna","email":"anna@example.com","phone":"+47 912 34 567","ref":"A-1","birth_date":"1980-05-17"}`,
		`{"name":"Bo","birth_date":"2015-02-03"}`,
		`{"name":"Bo","birth_date":"2015-02-03","guardian_id":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}`,
		`{"name":"4111 1111 1111 1111"}`,
		`{"ref":"44051401359"}`,
		`{"email":"not-an-email"}`,
		`{"name":5}`,
		`{"NAME":"case"}`,
		`{"category":"invoice","data":{"invoice_number":"1","invoice_date":"2024-01-31","amount":12.5}}`,
		`{"category":"enquiry","data":{"message":"hi","topic":null}}`,
		`{"category":"x","data":{"a":{"b":[1,2,{"c":1e400}]}}}`,
		`{"data":{"\u0000":"\ud800"}}`,
	}
	for _, c := range badBodies {
		if len(c.body) < 1000 {
			seeds = append(seeds, c.body)
		}
	}
	return seeds
}

// FuzzDecodeJSON checks decodeJSON with the request shapes of subject and record creation: it
// never panics; it refuses with an EINVALID *skjold.Error; what it accepts encodes again and
// decodes to the same value.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range jsonSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range []any{&subjectCreateRequest{}, &recordCreateRequest{}} {
			err := decodeJSON(body, v)
			if err != nil {
				var e *skjold.Error
				if !errors.As(err, &e) || e.Code != skjold.EINVALID || e.Message == "" {
					t.Fatalf("decodeJSON(%q) = %#v, want an EINVALID *skjold.Error with a message", body, err)
				}
				continue
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("decodeJSON(%q) gave %#v, which does not encode: %v", body, v, err)
			}
			again := reflect.New(reflect.TypeOf(v).Elem()).Interface()
			if err := decodeJSON(out, again); err != nil {
				t.Fatalf("decodeJSON(%q) gave %s, which decodeJSON refuses: %v", body, out, err)
			}
			if !reflect.DeepEqual(v, again) {
				t.Fatalf("decodeJSON(%q) = %#v; encoded and decoded again %#v", body, v, again)
			}
		}
	})
}

// TestDecodeExactKeys checks the errors exactKeys gives, down to nested objects and arrays.
func TestDecodeExactKeys(t *testing.T) {
	type inner struct {
		Name string `json:"name"`
	}
	type outer struct {
		Title  string         `json:"title"`
		Items  []inner        `json:"items"`
		Data   map[string]any `json:"data"`
		Nested *inner         `json:"nested"`
	}
	for _, c := range []struct{ body, field, rule string }{
		{`{"Title":"x"}`, "Title", "unknown"},
		{`{"items":[{"name":"a"},{"NAME":"b"}]}`, "items[1].NAME", "unknown"},
		{`{"nested":{"Name":"a"}}`, "nested.Name", "unknown"},
		{`{"title":"a","title":"b"}`, "title", "duplicate"},
		{`{"data":{"x":{"y":1,"y":2}}}`, "data.x.y", "duplicate"},
		{`{"items":[{"name":"a","name":"b"}]}`, "items[0].name", "duplicate"},
	} {
		var v outer
		err := decodeJSON([]byte(c.body), &v)
		var e *skjold.Error
		if !errors.As(err, &e) || e.Code != skjold.EINVALID || e.Field != c.field || e.Rule != c.rule {
			t.Errorf("decodeJSON(%s) = %v, want field %q rule %q", c.body, err, c.field, c.rule)
		}
	}
	// Keys that differ from each other only in case are different keys of a free map.
	var v outer
	if err := decodeJSON([]byte(`{"title":"t","items":[{"name":"a"}],"data":{"City":1,"city":2},"nested":{"name":"n"}}`), &v); err != nil {
		t.Errorf("a body with exact keys was refused: %v", err)
	}
}

// TestBodylessRoutesRefuseBodies sends a body to every route that the OpenAPI document
// declares without one, as a caller the route admits: each is refused with 400 before the
// handler runs and changes nothing. `{"restricted": false}` on PUT …/restriction used to
// restrict the subject all the same.
func TestBodylessRoutesRefuseBodies(t *testing.T) {
	e := newEnv(t)
	owner := e.activeStaff(t, e.a.id, skjold.RoleOwner, "")
	opOwner := e.activeStaff(t, "", skjold.RoleOwner, "") // holds every operator scope
	pathParam := regexp.MustCompile(`\{[a-z]+\}`)
	n := 0
	for _, rt := range testRoutes() {
		if obj(operation(t, rt.pattern), "requestBody") != nil {
			continue
		}
		n++
		method, pattern, _ := strings.Cut(rt.pattern, " ")
		path := pathParam.ReplaceAllString(pattern, missingID)
		token := e.a.token
		switch {
		case rt.perm.public:
			token = ""
		case rt.perm.self && rt.perm.scope == "" && rt.perm.op == "":
			token = owner.session
		case rt.perm.scope == "":
			token = opOwner.session
		}
		for _, body := range []string{`{"restricted":false}`, `{}`, `x`} {
			t.Run(rt.pattern+"/"+body, func(t *testing.T) {
				e.unchanged(t, func() {
					got := e.do(t, token, method, path, body).wantError(t, 400, skjold.EINVALID)
					if got.Field != "body" || got.Rule != "no_body" {
						t.Errorf("error %+v does not name the body", got)
					}
				})
			})
		}
	}
	if n < 30 {
		t.Fatalf("only %d body-less routes found in the OpenAPI document", n)
	}

	// The routes of the issue, on real objects: nothing happens, and without a body they work.
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna"})
	rec := e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "contact", "data": map[string]string{"city": "Oslo"}})
	tok := e.createToken(t, e.a.token, "spare", skjold.ScopeRead)
	subject := "/api/v1/subjects/" + sub.ID
	for _, c := range []struct{ method, path, body string }{
		{"PUT", subject + "/restriction", `{"restricted": false}`},
		{"PUT", subject + "/objection", `{"objected": false}`},
		{"DELETE", "/api/v1/records/" + rec.ID, `{"keep": true}`},
		{"DELETE", "/api/v1/tokens/" + tok.ID, `{"revoke": false}`},
	} {
		e.do(t, e.a.token, c.method, c.path, c.body).wantError(t, 400, skjold.EINVALID)
	}
	var got skjold.Subject
	e.do(t, e.a.token, "GET", subject, nil).want(t, 200).decode(t, &got)
	if got.Restricted || got.Objected {
		t.Errorf("a refused request changed the subject: %+v", got)
	}
	e.do(t, e.a.token, "GET", "/api/v1/records/"+rec.ID, nil).want(t, 200)
	e.do(t, tok.Secret, "GET", subject, nil).want(t, 200)
	e.do(t, e.a.token, "PUT", subject+"/restriction", nil).want(t, 204)
	e.do(t, e.a.token, "DELETE", "/api/v1/tokens/"+tok.ID, nil).want(t, 204)
}

// TestRefuseBodyChunked checks a body of unknown length is found too.
func TestRefuseBodyChunked(t *testing.T) {
	for _, c := range []struct {
		body string
		want bool
	}{{"", false}, {"{}", true}, {" ", true}} {
		r := httptest.NewRequest("DELETE", "/api/v1/records/x", io.NopCloser(strings.NewReader(c.body)))
		r.ContentLength = -1
		if got := refuseBody(r) != nil; got != c.want {
			t.Errorf("chunked body %q: refused %v, want %v", c.body, got, c.want)
		}
	}
}
