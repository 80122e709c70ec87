package http

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
	"time"

	"github.com/skjold-project/skjold"
)

// requestInfo is what the request log line says about a request besides its method: filled
// in by the layers that learn it (the route by observe, the caller by authorize).
type requestInfo struct {
	id       string // X-Request-Id: the trusted proxy's, or made here
	route    string // the route pattern, "unmatched" when none matched
	tenantID string
	actor    string // "token:<id>", "user:<id>", …: ids, never names or addresses
}

type requestInfoKey struct{}

func infoOf(r *http.Request) *requestInfo {
	ri, _ := r.Context().Value(requestInfoKey{}).(*requestInfo)
	return ri
}

// requestIDPattern is what an X-Request-Id from a trusted proxy may look like: short, and
// nothing that could smuggle text into a log line.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// traceparentPattern is a W3C Trace Context traceparent header, version 00 or a later one.
var traceparentPattern = regexp.MustCompile(`^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$`)

// requestID returns the X-Request-Id to use: the one a trusted proxy sent, when it looks
// like an id, and a new random one otherwise (a client could forge any other's).
func (s *Server) requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && requestIDPattern.MatchString(id) &&
		s.svc.Shield != nil && s.svc.Shield.trusted(peerAddr(r)) {
		return id
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// traceOf returns the trace and parent span ids of a valid W3C traceparent header, or "".
func traceOf(r *http.Request) (traceID, parentID string) {
	vals := r.Header.Values("traceparent")
	if len(vals) != 1 {
		return "", ""
	}
	m := traceparentPattern.FindStringSubmatch(vals[0])
	if m == nil || m[1] == "ff" || (m[1] == "00" && m[5] != "") ||
		m[2] == "00000000000000000000000000000000" || m[3] == "0000000000000000" {
		return "", ""
	}
	return m[2], m[3]
}

// logRequests answers with X-Request-Id and writes one info line per request when it ends:
// method, route pattern, status, duration, bytes, tenant, caller (ids only), request id and,
// when the client sent one, its trace. Never the path's values, the query string or a body.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &requestInfo{id: s.requestID(r), route: "unmatched"}
		w.Header().Set("X-Request-Id", ri.id)
		cw := &countingWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, ri)))
		status := cw.status
		if status == 0 {
			status = http.StatusOK
		}
		attrs := []any{"method", r.Method, "route", ri.route, "status", status,
			"duration_ms", float64(time.Since(start).Microseconds()) / 1000, "bytes", cw.bytes,
			"tenant_id", ri.tenantID, "actor", ri.actor, "request_id", ri.id}
		if trace, parent := traceOf(r); trace != "" {
			attrs = append(attrs, "trace_id", trace, "parent_id", parent)
		}
		s.log.Info("request", attrs...)
	})
}

// noteRequestCaller records the caller for the request log line.
func noteRequestCaller(r *http.Request, c *skjold.Caller) {
	if ri := infoOf(r); ri != nil {
		ri.tenantID, ri.actor = c.TenantID, c.Actor
	}
}

// countingWriter remembers the status and counts the body bytes written.
type countingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *countingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
