package http

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/skjold-project/skjold"
)

// testRoutes returns routes() of a server that is only good for listing them.
func testRoutes() []route {
	s := &Server{metrics: NewMetrics("test", func(context.Context) (int64, error) { return 0, nil })}
	return s.routes()
}

// The OpenAPI document, parsed once, and a mux that tells which route pattern a request
// matches.
var (
	docOnce  sync.Once
	doc      map[string]any
	docErr   error
	routeMux *http.ServeMux
)

func loadDoc(t *testing.T) map[string]any {
	t.Helper()
	docOnce.Do(func() {
		dec := json.NewDecoder(bytes.NewReader(openapiDoc))
		dec.UseNumber()
		docErr = dec.Decode(&doc)
		routeMux = http.NewServeMux()
		for _, rt := range testRoutes() {
			routeMux.Handle(rt.pattern, http.NotFoundHandler())
		}
	})
	if docErr != nil {
		t.Fatalf("openapi.json: %v", docErr)
	}
	return doc
}

// obj and arr read the generic JSON tree; a missing or mistyped member is nil.
func obj(v any, keys ...string) map[string]any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	m, _ := v.(map[string]any)
	return m
}

func str(v any, key string) string {
	s, _ := obj(v)[key].(string)
	return s
}

// operation returns the document's operation for a route pattern such as "GET /x/{id}".
func operation(t *testing.T, pattern string) map[string]any {
	method, path, _ := strings.Cut(pattern, " ")
	return obj(loadDoc(t), "paths", path, strings.ToLower(method))
}

// resolve follows a local $ref, once or more.
func resolve(t *testing.T, v map[string]any) map[string]any {
	for i := 0; v != nil && v["$ref"] != nil && i < 10; i++ {
		ref, _ := v["$ref"].(string)
		parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
		v = obj(loadDoc(t), parts...)
		if v == nil {
			t.Fatalf("openapi.json: $ref %q does not resolve", ref)
		}
	}
	return v
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	d := loadDoc(t)
	patterns := map[string]bool{}
	for _, rt := range testRoutes() {
		patterns[rt.pattern] = true
		if operation(t, rt.pattern) == nil {
			t.Errorf("route %q is not in openapi.json", rt.pattern)
		}
	}
	for path, item := range obj(d, "paths") {
		for method := range obj(item) {
			if !slices.Contains(httpMethods, method) {
				continue // parameters, summary, …
			}
			if p := strings.ToUpper(method) + " " + path; !patterns[p] {
				t.Errorf("openapi.json documents %q, which is not a route", p)
			}
		}
	}
}

// TestOpenAPIDocument checks the document's structure: what OpenAPI 3.1 requires and what
// this API promises for every operation.
func TestOpenAPIDocument(t *testing.T) {
	d := loadDoc(t)
	if d["openapi"] != "3.1.0" || str(d["info"], "title") != "Skjold API" || str(d["info"], "version") != "1" {
		t.Errorf("openapi %v, info %v", d["openapi"], d["info"])
	}
	servers, _ := d["servers"].([]any)
	if len(servers) != 1 || str(servers[0], "url") != "https://127.0.0.1:8443" {
		t.Errorf("servers %v", d["servers"])
	}
	if s := obj(d, "components", "securitySchemes", "bearerAuth"); str(s, "type") != "http" || str(s, "scheme") != "bearer" {
		t.Errorf("securitySchemes.bearerAuth %v", s)
	}
	if s := obj(d, "components", "securitySchemes", "cookieAuth"); str(s, "type") != "apiKey" || str(s, "in") != "cookie" ||
		str(s, "name") != sessionCookie || !strings.Contains(str(s, "description"), csrfHeader) {
		t.Errorf("securitySchemes.cookieAuth %v: want the %s cookie, naming the %s header", s, sessionCookie, csrfHeader)
	}
	if !signedIn(d["security"]) {
		t.Errorf("the default security must be %s", signedInSecurity)
	}
	checkErrorCodes(t)
	checkRefs(t, "", d)
	ids := map[string]bool{}
	for _, rt := range testRoutes() {
		op := operation(t, rt.pattern)
		if op == nil {
			continue // reported by TestOpenAPIMatchesRoutes
		}
		id := str(op, "operationId")
		if id == "" || ids[id] {
			t.Errorf("%s: operationId %q missing or not unique", rt.pattern, id)
		}
		ids[id] = true
		if str(op, "summary") == "" || !strings.Contains(str(op, "description"), "Permission: ") {
			t.Errorf("%s: needs a summary, and a description that names the permission", rt.pattern)
		}
		checkSecurity(t, rt, op)
		checkParameters(t, rt.pattern, op)
		checkResponses(t, rt, op)
	}
}

// checkRefs fails the test for every $ref that does not resolve.
func checkRefs(t *testing.T, at string, v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k == "$ref" {
				resolve(t, map[string]any{k: x})
				continue
			}
			checkRefs(t, at+"/"+k, x)
		}
	case []any:
		for i, x := range v {
			checkRefs(t, at+"/"+strconv.Itoa(i), x)
		}
	}
}

// signedInSecurity is the security of every route that is not public: any of the ways to
// authenticate (auth.go) will do, and the route's permission decides.
const signedInSecurity = `[{"bearerAuth":[]},{"cookieAuth":[]}]`

func signedIn(security any) bool {
	b, err := json.Marshal(security)
	return err == nil && string(b) == signedInSecurity
}

func checkSecurity(t *testing.T, rt route, op map[string]any) {
	sec, ok := op["security"].([]any)
	switch {
	case !ok:
		t.Errorf("%s: no security requirement", rt.pattern)
	case rt.perm.public && len(sec) != 0:
		t.Errorf("%s: a public route needs security: []", rt.pattern)
	case !rt.perm.public && !signedIn(sec):
		t.Errorf("%s: security must be %s", rt.pattern, signedInSecurity)
	}
	if got, want := str(op, "x-skjold-permission"), permString(rt.perm); got != want {
		t.Errorf("%s: x-skjold-permission %q, routes.go says %q", rt.pattern, got, want)
	}
	_, permission, _ := strings.Cut(str(op, "description"), "Permission: ")
	for _, want := range permWords(rt.perm) {
		if !strings.Contains(permission, want) {
			t.Errorf("%s: the description's permission does not say %q", rt.pattern, want)
		}
	}
}

// permWords returns what the description of a route needing p must say after "Permission: ":
// who may call it, and the login stages in which it is open.
func permWords(p perm) []string {
	var words []string
	if p.public {
		words = append(words, "none (public)")
	}
	if p.scope != "" {
		words = append(words, "tenant scope "+p.scope)
	}
	if p.op != "" {
		words = append(words, "operator scope "+p.op)
	}
	if p.self {
		words = append(words, "logged-in user")
	}
	return append(words, p.stages...)
}

// checkErrorCodes checks that the ErrorCode schema lists exactly the codes that error.go maps to
// statuses, and that each of those statuses is documented somewhere.
func checkErrorCodes(t *testing.T) {
	enum, _ := obj(loadDoc(t), "components", "schemas", "ErrorCode")["enum"].([]any)
	var documented []string
	for _, c := range enum {
		documented = append(documented, fmt.Sprint(c))
	}
	var codes []string
	for code, status := range statuses {
		codes = append(codes, code)
		if status == http.StatusMethodNotAllowed { // any path: documented once, as a shared response
			if obj(loadDoc(t), "components", "responses", "MethodNotAllowed") == nil {
				t.Errorf("status 405 is not documented in components.responses.MethodNotAllowed")
			}
			continue
		}
		if !statusDocumented(t, status) {
			t.Errorf("status %d (code %s) is documented for no route", status, code)
		}
	}
	slices.Sort(documented)
	slices.Sort(codes)
	if !slices.Equal(documented, codes) {
		t.Errorf("the Error schema's codes are %v; error.go maps %v", documented, codes)
	}
}

func statusDocumented(t *testing.T, status int) bool {
	for _, rt := range testRoutes() {
		if obj(operation(t, rt.pattern), "responses", strconv.Itoa(status)) != nil {
			return true
		}
	}
	return false
}

// checkParameters checks that path parameters match the pattern's wildcards, and that every
// route a tenant token calls takes ?purpose=.
func checkParameters(t *testing.T, pattern string, op map[string]any) {
	params, _ := op["parameters"].([]any)
	inPath, inQuery := map[string]bool{}, map[string]bool{}
	for _, p := range params {
		p := resolve(t, obj(p))
		name := str(p, "name")
		if obj(p, "schema") == nil || str(p, "description") == "" {
			t.Errorf("%s: parameter %q needs a schema and a description", pattern, name)
		}
		switch str(p, "in") {
		case "path":
			inPath[name] = true
			if p["required"] != true {
				t.Errorf("%s: path parameter %q must be required", pattern, name)
			}
		case "query":
			inQuery[name] = true
		}
	}
	for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(pattern, -1) {
		if !inPath[m[1]] {
			t.Errorf("%s: path parameter %q is not documented", pattern, m[1])
		}
		delete(inPath, m[1])
	}
	for name := range inPath {
		t.Errorf("%s: documents path parameter %q that the path lacks", pattern, name)
	}
	want := map[string][]string{
		"GET /api/v1/subjects":              {"email", "phone", "ref", "after", "limit"},
		"GET /api/v1/subjects/{id}/records": {"category", "after", "limit"},
		"GET /api/v1/audit":                 {"subject_id", "actor", "action", "since", "until", "after", "limit"},
		"GET /api/v1/tenants":               {"after", "limit"},
		"GET /api/v1/tokens":                {"after", "limit"},
		"GET /api/v1/users":                 {"after", "limit"},
		"GET /api/v1/sessions":              {"user_id"},
	}[pattern]
	for _, rt := range testRoutes() {
		if rt.pattern == pattern && rt.perm.scope != "" {
			want = append(want, "purpose")
		}
	}
	for _, name := range want {
		if !inQuery[name] {
			t.Errorf("%s: query parameter %q is not documented", pattern, name)
		}
	}
}

func checkResponses(t *testing.T, rt route, op map[string]any) {
	responses := obj(op, "responses")
	has := func(code int) bool { return responses[strconv.Itoa(code)] != nil }
	want := []int{403} // the shield refuses a blocked or banned address on every route
	if !rt.perm.public {
		want = append(want, 400, 401, 500)
	}
	creates := []string{"PUT /api/v1/categories/{name}", "PUT /api/v1/purposes/{name}", "PUT /api/v1/profiles/{name}"}
	if strings.Contains(rt.pattern, "{") && !slices.Contains(creates, rt.pattern) {
		want = append(want, 404)
	}
	if op["requestBody"] != nil {
		want = append(want, 400, 413, 415)
	}
	for _, code := range want {
		if !has(code) {
			t.Errorf("%s: status %d is not documented", rt.pattern, code)
		}
	}
	for code, r := range responses {
		r := resolve(t, obj(r))
		if str(r, "description") == "" {
			t.Errorf("%s %s: response needs a description", rt.pattern, code)
		}
		if n, _ := strconv.Atoi(code); n >= 400 && rt.pattern != "GET /healthz" && obj(r, "content", "application/problem+json", "schema")["$ref"] != "#/components/schemas/Problem" {
			t.Errorf("%s %s: error responses must be Problem", rt.pattern, code)
		}
	}
}

// TestOpenAPIRequestBodies checks that every request body is a closed JSON object: an object
// with declared properties refuses all others, at every depth, as the handlers' decoder does.
func TestOpenAPIRequestBodies(t *testing.T) {
	bodies := 0
	for _, rt := range testRoutes() {
		rb := obj(operation(t, rt.pattern), "requestBody")
		if rb == nil {
			continue
		}
		bodies++
		schema := resolve(t, obj(rb, "content", "application/json", "schema"))
		if rb["required"] != true || schema == nil {
			t.Errorf("%s: request body must be required application/json", rt.pattern)
			continue
		}
		if schema["additionalProperties"] != false {
			t.Errorf("%s: request body schema must have additionalProperties: false", rt.pattern)
		}
		checkClosed(t, rt.pattern, schema, map[string]bool{})
	}
	if bodies != 55 {
		t.Errorf("%d request bodies documented, want 55", bodies)
	}
}

func checkClosed(t *testing.T, at string, s map[string]any, seen map[string]bool) {
	if ref, _ := s["$ref"].(string); ref != "" {
		if seen[ref] {
			return
		}
		seen[ref] = true
		s = resolve(t, s)
	}
	if s["properties"] != nil && s["additionalProperties"] != false {
		t.Errorf("%s: an object with declared properties must have additionalProperties: false", at)
	}
	for name, p := range obj(s, "properties") {
		checkClosed(t, at+"."+name, obj(p), seen)
	}
	if items := obj(s, "items"); items != nil {
		checkClosed(t, at+"[]", items, seen)
	}
}

// TestOpenAPIRequestSchemasMatchHandlers sends, for every documented request property, a
// value of the wrong JSON type: the handler must name that very field as mistyped, which
// shows that it has the field; and an undocumented property must be refused as unknown.
// Each request comes from a caller that passes the route's guard, so that the body is read.
func TestOpenAPIRequestSchemasMatchHandlers(t *testing.T) {
	e := newEnv(t)
	sub := e.createSubject(t, e.a.token, map[string]string{"name": "Anna"})
	rec := e.createRecord(t, e.a.token, sub.ID, map[string]any{"category": "enquiry", "data": map[string]string{"message": "Hi"}})
	session := activeSession(t, e)
	paths := map[string]string{"{id}": sub.ID, "{name}": "enquiry"}
	for _, rt := range testRoutes() {
		rb := obj(operation(t, rt.pattern), "requestBody")
		if rb == nil {
			continue
		}
		method, path, _ := strings.Cut(rt.pattern, " ")
		for k, v := range paths {
			path = strings.ReplaceAll(path, k, v)
		}
		if strings.HasPrefix(path, "/api/v1/records/") {
			path = "/api/v1/records/" + rec.ID
		}
		token := e.a.token // public routes ignore it
		switch {
		case rt.perm.self:
			token = session
		case rt.perm.scope == "" && rt.perm.op != "":
			token = e.operator
		}
		schema := resolve(t, obj(rb, "content", "application/json", "schema"))
		for name, prop := range obj(schema, "properties") {
			wrong := wrongTypeFor(t, resolve(t, obj(prop)))
			e.unchanged(t, func() {
				r := e.do(t, token, method, path, `{"`+name+`":`+wrong+`}`)
				if got := r.wantError(t, 400, skjold.EINVALID); got.Field != name || got.Rule != "type" {
					t.Errorf("%s: %s = %s: error %+v, want field %q rule type", rt.pattern, name, wrong, got, name)
				}
			})
		}
		e.unchanged(t, func() {
			r := e.do(t, token, method, path, `{"undocumented_field":1}`)
			if got := r.wantError(t, 400, skjold.EINVALID); got.Field != "undocumented_field" || got.Rule != "unknown" {
				t.Errorf("%s: undocumented field: error %+v", rt.pattern, got)
			}
		})
	}
}

// activeSession makes a user of tenant A through the API, logs it in and replaces its
// one-time password, and returns the bearer session token, now in stage active.
func activeSession(t *testing.T, e *env) string {
	t.Helper()
	var user struct {
		OneTimePassword string `json:"one_time_password"`
	}
	e.do(t, e.a.token, "POST", "/api/v1/users", map[string]string{"email": "olga@example.com", "name": "Olga", "role": "agent"}).
		want(t, 201).decode(t, &user)
	var login struct{ Token, Stage string }
	e.do(t, "", "POST", "/api/v1/auth/login", map[string]string{"email": "olga@example.com", "password": user.OneTimePassword, "session": "token"}).
		want(t, 200).decode(t, &login)
	if login.Token == "" || login.Stage != skjold.StageConfirmEmail {
		t.Fatalf("login with a one-time password: token %t, stage %q", login.Token != "", login.Stage)
	}
	e.do(t, login.Token, "POST", "/api/v1/auth/email-confirmation",
		map[string]string{"code": e.requestCode(t, "olga@example.com")}).want(t, 204)
	e.do(t, login.Token, "POST", "/api/v1/auth/password",
		map[string]string{"old_password": user.OneTimePassword, "new_password": "Fjord-Lantern-Basalt-71"}).want(t, 204)
	return login.Token
}

// wrongTypeFor returns a JSON value that a property of this schema does not accept.
func wrongTypeFor(t *testing.T, s map[string]any) string {
	types := fmt.Sprint(s["type"])
	switch {
	case strings.Contains(types, "string"):
		return "[1]"
	case strings.Contains(types, "object"), strings.Contains(types, "array"), strings.Contains(types, "integer"),
		strings.Contains(types, "number"):
		return `"text"`
	case strings.Contains(types, "boolean"):
		return `"yes"`
	}
	t.Fatalf("no wrong value for a schema of type %v", types)
	return ""
}

func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, "", "GET", "/api/v1/openapi.json", nil).want(t, 200)
	if !bytes.Equal(r.body, openapiDoc) || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("GET /api/v1/openapi.json does not serve openapi.json as application/json")
	}
}

// TestOpenAPIGeneratorFriendly keeps the document usable by code generators that read only part
// of OpenAPI 3.1 (oapi-codegen, ogen): a value of several types is a oneOf, not a type array
// (["string", "null"] for an optional value is understood everywhere); no two components share
// a name once capitalised (a parameter "category" and a schema "Category" become two Go types of
// one name); every tag an operation uses is declared and described; the document says who makes
// it and under which licence.
func TestOpenAPIGeneratorFriendly(t *testing.T) {
	d := loadDoc(t)
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if types, ok := v["type"].([]any); ok {
				var kinds []any
				for _, k := range types {
					if k != "null" {
						kinds = append(kinds, k)
					}
				}
				if len(kinds) > 1 {
					t.Errorf("%s: type %v: state several types as a oneOf", at, types)
				}
			}
			for k, e := range v {
				walk(at+"/"+k, e)
			}
		case []any:
			for i, e := range v {
				walk(at+"/"+strconv.Itoa(i), e)
			}
		}
	}
	walk("", d)

	names := map[string]string{}
	for kind, set := range obj(d, "components") {
		for name := range obj(set) {
			key := strings.ToUpper(name[:1]) + name[1:]
			if other, ok := names[key]; ok {
				t.Errorf("components %s/%s and %s/%s give generators one type name", kind, name, other, name)
			}
			names[key] = kind
		}
	}

	declared := map[string]bool{}
	tags, _ := d["tags"].([]any)
	for _, tag := range tags {
		if str(tag, "description") == "" {
			t.Errorf("tag %q has no description", str(tag, "name"))
		}
		declared[str(tag, "name")] = true
	}
	for path, item := range obj(d, "paths") {
		for method, op := range obj(item) {
			used, _ := obj(op)["tags"].([]any)
			if len(used) == 0 {
				t.Errorf("%s %s: no tag", method, path)
			}
			for _, tag := range used {
				if !declared[fmt.Sprint(tag)] {
					t.Errorf("%s %s: tag %v is not declared", method, path, tag)
				}
			}
		}
	}
	if str(obj(d, "info", "license"), "identifier") == "" || str(obj(d, "info", "contact"), "url") == "" {
		t.Errorf("info needs a license with an SPDX identifier and a contact URL: %v", d["info"])
	}
}
