package http

import (
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.do(t, e.a.token, "GET", "/api/v1/categories", nil).want(t, 200)
	e.do(t, "", "GET", "/metrics", nil).wantError(t, 401, skjold.EUNAUTHORIZED)
	e.do(t, e.a.token, "GET", "/metrics", nil).wantError(t, 403, skjold.EFORBIDDEN)
	r := e.do(t, e.operator, "GET", "/metrics", nil).want(t, 200)
	body := string(r.body)
	for _, want := range []string{
		"skjold_http_requests_total",
		`skjold_http_requests_total{code="200",method="GET",route="/api/v1/categories"} 1`,
		`skjold_http_requests_total{code="403",method="GET",route="/metrics"} 1`,
		`skjold_http_request_duration_seconds_count{method="GET",route="/api/v1/categories"} 1`,
		"skjold_audit_chain_length ",
		"skjold_http_request_duration_seconds",
		`skjold_build_info{version="test"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "skjold_audit_chain_length -1") {
		t.Errorf("the audit chain length could not be read")
	}
	if strings.Contains(body, e.a.token) || strings.Contains(body, e.a.id) {
		t.Errorf("/metrics holds a token or an id")
	}
}
