package http

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestRequestLog checks the one info line per request: method, route pattern, status,
// duration, bytes, tenant, caller, request id and trace, and no personal value or query.
func TestRequestLog(t *testing.T) {
	e := newEnv(t)
	s := e.createSubject(t, e.a.token, map[string]string{"name": "Kari Nordmann", "email": "kari@example.com"})
	before := len(e.logs.String())
	trace := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	r := e.doWith(t, e.a.token, http.Header{"Traceparent": {trace}, "X-Request-Id": {"forged-by-client"}},
		"GET", "/api/v1/subjects/"+s.ID+"?email=kari@example.com", nil).want(t, 200)
	id := r.header.Get("X-Request-Id")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Errorf("X-Request-Id %q: a client's own id is not believed, a new one is made", id)
	}
	logs := e.logs.String()[before:]
	if strings.Contains(logs, "kari") || strings.Contains(logs, "Kari") || strings.Contains(logs, s.ID) || strings.Contains(logs, e.a.token) {
		t.Errorf("the request log holds a personal value, a path value or a secret:\n%s", logs)
	}
	var line string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "msg=request ") {
			line = l
		}
	}
	for _, want := range []string{"level=INFO", "method=GET", `route="GET /api/v1/subjects/{id}"`, "status=200",
		"tenant_id=" + e.a.id, "actor=token:", "request_id=" + id, "trace_id=4bf92f3577b34da6a3ce929d0e0e4736",
		"parent_id=00f067aa0ba902b7", "duration_ms=", "bytes=" + strconv.Itoa(len(r.body)) + " "} {
		if !strings.Contains(line, want) {
			t.Errorf("the request line lacks %s:\n%s", want, line)
		}
	}

	// A malformed traceparent is ignored; an unmatched path is logged as unmatched.
	before = len(e.logs.String())
	e.doWith(t, "", http.Header{"Traceparent": {"00-xyz"}}, "GET", "/api/v1/nothing/kari@example.com", nil).want(t, 404)
	logs = e.logs.String()[before:]
	if strings.Contains(logs, "trace_id") || strings.Contains(logs, "kari") || !strings.Contains(logs, "route=unmatched") {
		t.Errorf("log of an unmatched request:\n%s", logs)
	}
}
