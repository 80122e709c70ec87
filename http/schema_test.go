package http

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// checkDocumented fails the test when an answer is not what the OpenAPI document promises:
// its status must be documented for the route, and its body must match the schema. A
// request the server accepted must match the request body's schema too.
func checkDocumented(t *testing.T, req *http.Request, reqBody []byte, r *reply) {
	t.Helper()
	loadDoc(t)
	_, pattern := routeMux.Handler(req)
	if pattern == "" {
		if r.status != http.StatusNotFound && r.status != http.StatusBadRequest && r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s matches no route but got %d", r.method, r.path, r.status)
		}
		if r.status == http.StatusMethodNotAllowed && r.header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", r.method, r.path)
		}
		return
	}
	checkConventions(t, r)
	op := operation(t, pattern)
	if op == nil {
		return // reported by TestOpenAPIMatchesRoutes
	}
	resp := resolve(t, obj(op, "responses", strconv.Itoa(r.status)))
	if resp == nil {
		t.Errorf("%s (%s %s): status %d is not documented; body %s", pattern, r.method, r.path, r.status, r.body)
		return
	}
	content := obj(resp, "content")
	if content == nil {
		if len(r.body) != 0 {
			t.Errorf("%s: status %d is documented without a body, got %s", pattern, r.status, r.body)
		}
		return
	}
	mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	media := obj(content, mt)
	if media == nil {
		t.Errorf("%s: status %d: Content-Type %q is not documented", pattern, r.status, mt)
		return
	}
	if mt == "application/json" || mt == "application/problem+json" {
		validateJSON(t, fmt.Sprintf("%s: %d answer", pattern, r.status), obj(media, "schema"), r.body)
	}
	if rb := obj(op, "requestBody", "content", "application/json", "schema"); rb != nil && r.status < 300 {
		validateJSON(t, pattern+": accepted request", rb, reqBody)
	}
}

func validateJSON(t *testing.T, what string, schema map[string]any, body []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Errorf("%s: not JSON: %v: %s", what, err, body)
		return
	}
	if problems := validate(t, schema, v, "$"); len(problems) > 0 {
		t.Errorf("%s does not match the schema:\n\t%s\n%s", what, strings.Join(problems, "\n\t"), body)
	}
}

// validate checks v against the part of JSON Schema the document uses, and returns what is wrong.
func validate(t *testing.T, s map[string]any, v any, at string) []string {
	s = resolve(t, s)
	if s == nil {
		return nil
	}
	var bad []string
	fail := func(format string, args ...any) { bad = append(bad, at+": "+fmt.Sprintf(format, args...)) }
	if types := schemaTypes(s["type"]); len(types) > 0 && !slices.ContainsFunc(types, func(ty string) bool { return isType(v, ty) }) {
		fail("%v is not of type %v", v, types)
		return bad
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		fail("%v is not one of %v", v, enum)
	}
	switch v := v.(type) {
	case string:
		bad = append(bad, validateString(s, v, at)...)
	case json.Number:
		x, _ := v.Float64()
		if m, ok := s["minimum"].(json.Number); ok && x < mustFloat(m) {
			fail("%v is under the minimum %v", v, m)
		}
		if m, ok := s["maximum"].(json.Number); ok && x > mustFloat(m) {
			fail("%v is over the maximum %v", v, m)
		}
	case []any:
		for i, item := range v {
			bad = append(bad, validate(t, obj(s, "items"), item, fmt.Sprintf("%s[%d]", at, i))...)
		}
		if n, ok := s["minItems"].(json.Number); ok && len(v) < int(mustFloat(n)) {
			fail("fewer than %v items", n)
		}
		if n, ok := s["maxItems"].(json.Number); ok && len(v) > int(mustFloat(n)) {
			fail("more than %v items", n)
		}
	case map[string]any:
		bad = append(bad, validateObject(t, s, v, at)...)
	}
	return bad
}

func validateObject(t *testing.T, s map[string]any, v map[string]any, at string) []string {
	var bad []string
	required, _ := s["required"].([]any)
	for _, name := range required {
		if _, ok := v[name.(string)]; !ok {
			bad = append(bad, fmt.Sprintf("%s: required %q is missing", at, name))
		}
	}
	props := obj(s, "properties")
	for name, x := range v {
		switch p := props[name]; {
		case p != nil:
			bad = append(bad, validate(t, obj(p), x, at+"."+name)...)
		case s["additionalProperties"] == false:
			bad = append(bad, fmt.Sprintf("%s: %q is not a documented property", at, name))
		case obj(s, "additionalProperties") != nil:
			bad = append(bad, validate(t, obj(s, "additionalProperties"), x, at+"."+name)...)
		}
	}
	if n, ok := s["minProperties"].(json.Number); ok && len(v) < int(mustFloat(n)) {
		bad = append(bad, fmt.Sprintf("%s: fewer than %v properties", at, n))
	}
	return bad
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func validateString(s map[string]any, v, at string) []string {
	var bad []string
	fail := func(format string, args ...any) { bad = append(bad, at+": "+fmt.Sprintf(format, args...)) }
	n := utf8.RuneCountInString(v)
	if m, ok := s["minLength"].(json.Number); ok && n < int(mustFloat(m)) {
		fail("shorter than %v", m)
	}
	if m, ok := s["maxLength"].(json.Number); ok && n > int(mustFloat(m)) {
		fail("longer than %v", m)
	}
	if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(v) {
		fail("%q does not match %s", v, p)
	}
	var ok bool
	switch s["format"] {
	case "uuid":
		ok = uuidRE.MatchString(v)
	case "date":
		_, err := time.Parse(time.DateOnly, v)
		ok = err == nil
	case "date-time":
		_, err := time.Parse(time.RFC3339Nano, v)
		ok = err == nil
	case "email":
		ok = strings.Count(v, "@") == 1 && !strings.HasPrefix(v, "@") && !strings.HasSuffix(v, "@")
	default:
		ok = true
	}
	if !ok {
		fail("%q is not of format %v", v, s["format"])
	}
	return bad
}

func schemaTypes(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var types []string
		for _, x := range v {
			types = append(types, x.(string))
		}
		return types
	}
	return nil
}

func isType(v any, ty string) bool {
	switch v := v.(type) {
	case nil:
		return ty == "null"
	case bool:
		return ty == "boolean"
	case string:
		return ty == "string"
	case []any:
		return ty == "array"
	case map[string]any:
		return ty == "object"
	case json.Number:
		_, err := v.Int64()
		return ty == "number" || (ty == "integer" && err == nil)
	}
	return false
}

func mustFloat(n json.Number) float64 {
	f, err := n.Float64()
	if err != nil {
		panic(err)
	}
	return f
}

// checkConventions fails the test when an API answer breaks the HTTP conventions every
// route keeps: Location on 201, Retry-After on 429 and 503.
func checkConventions(t *testing.T, r *reply) {
	t.Helper()
	if !strings.HasPrefix(r.path, "/api/") {
		return
	}
	switch r.status {
	case http.StatusCreated:
		if loc := r.header.Get("Location"); !strings.HasPrefix(loc, "/api/v1/") {
			t.Errorf("%s %s: 201 with Location %q", r.method, r.path, loc)
		}
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n <= 0 {
			t.Errorf("%s %s: %d with Retry-After %q", r.method, r.path, r.status, r.header.Get("Retry-After"))
		}
	}
}
