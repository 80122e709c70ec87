package http

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/web"
)

// Services are the domain services the API serves.
type Services struct {
	Tenants    skjold.TenantService
	Tokens     skjold.TokenService
	Subjects   skjold.SubjectService
	Records    skjold.RecordService
	Categories skjold.CategoryService
	Audit      skjold.AuditService
	Auth       skjold.AuthService
	Network    skjold.NetworkService
	Approvals  skjold.ApprovalService
	Register   skjold.RegisterService
	Purposes   skjold.PurposeService
	Requests   skjold.RequestService
	Retention  skjold.RetentionService
	Export     skjold.ExportService
	Import     skjold.ImportService // nil: POST /api/v1/import answers 503
	Budgets    skjold.ReadBudgetService
	Backups    skjold.BackupService // nil: the backup routes answer 503
	// Compliance checks the promises against live state; nil: its routes answer 503.
	Compliance skjold.ComplianceService
	// Documents writes the compliance documents and keeps the organisational measures; nil:
	// their routes answer 503.
	Documents skjold.ComplianceDocumentService
	// SubProcessors lists the installation's storage, e-mail relay and backup targets for the
	// records of processing; nil: none are listed.
	SubProcessors func() []skjold.SubProcessor
	// Maintenance schedules and shows maintenance windows; nil: its routes answer 503.
	Maintenance skjold.MaintenanceService
	// Incidents keeps the breach register; nil: its routes answer 503.
	Incidents skjold.IncidentService
	// DPA keeps the sub-processor register and the data processing agreements; nil: 503.
	DPA skjold.DPAService
	// Registers keeps the registers of copies and destroyed media; nil: 503.
	Registers skjold.CopyRegisterService
	// Preferences keeps people's chosen language; nil: the console remembers it per browser.
	Preferences skjold.PreferenceService
	// Alerts keeps the operator's alert settings; nil: the alert routes answer 503.
	Alerts skjold.AlertService
	// GrantRequests lets operator staff ask tenants for support access; nil: 503.
	GrantRequests skjold.GrantRequestService
	Shield        *Shield // nil: no screening (tests of other concerns)
	// PrivacyCenter serves the tenants' public pages under /p/; nil: Requests, when it
	// implements it too (the store does).
	PrivacyCenter skjold.PrivacyCenterService
	// Banner keeps the website consent banner's settings and receipts; nil: Requests, when
	// it implements it too (the store does); else the banner's routes are not served.
	Banner skjold.BannerService
	// Health reports whether the store answers and its master keyring opens the tenant keys.
	Health func(ctx context.Context) error
	// Ready reports whether the node can write to the store and unwrap a tenant key now
	// (GET /readyz); nil: Health stands in for it.
	Ready func(ctx context.Context) error
	// Cluster is the node registry (GET /api/v1/cluster); nil: the route answers 503.
	Cluster skjold.ClusterService
}

// Server is the API handler with its dependencies.
type Server struct {
	svc     Services
	log     *slog.Logger
	metrics *Metrics
	engine  string
	version string
	mux     *http.ServeMux
	pages   *web.Renderer // the console's templates and catalogues
}

// NewServer returns the API as an http.Handler. engine and version are shown by /healthz.
func NewServer(svc Services, log *slog.Logger, metrics *Metrics, engine, version string) http.Handler {
	s := &Server{svc: svc, log: log.With("component", "http"), metrics: metrics, engine: engine, version: version,
		mux: http.NewServeMux()}
	for _, rt := range s.routes() {
		s.mux.Handle(rt.pattern, s.guard(rt))
	}
	pages, err := consolePages()
	if err != nil {
		panic(err) // the templates are compiled in: every test would fail first
	}
	s.pages = pages
	for _, rt := range s.consoleRoutes() {
		s.mux.Handle(rt.pattern, s.consoleGuard(rt))
	}
	if s.svc.PrivacyCenter == nil {
		s.svc.PrivacyCenter, _ = svc.Requests.(skjold.PrivacyCenterService)
	}
	if s.svc.PrivacyCenter != nil {
		for _, rt := range s.privacyRoutes() {
			s.mux.Handle(rt.pattern, s.privacyGuard(rt))
		}
	}
	if s.svc.Banner == nil {
		s.svc.Banner, _ = svc.Requests.(skjold.BannerService)
	}
	if s.svc.Banner != nil && s.svc.PrivacyCenter != nil {
		for _, rt := range s.bannerRoutes() {
			s.mux.Handle(rt.pattern, s.bannerGuard(rt))
		}
	}
	s.mux.Handle("/", s.notFound())
	return s.logRequests(s.secureHeaders(retryAfter(s.recoverPanics(s.screen(s.mux)))))
}

// guard wraps a route's handler with what every route gets: metrics, a log line, the
// authentication and permission check the route declares, and, on a route that takes no body,
// the refusal of one (after the permission check, so that it tells a stranger nothing).
func (s *Server) guard(rt route) http.Handler {
	h := rt.handler
	if !takesBody(rt.pattern) {
		h = s.bodyless(h)
	}
	if rt.perm.public {
		h = s.anonymous(h)
	} else {
		h = s.authorize(rt.perm, h)
	}
	return s.observe(rt.pattern, h)
}

// statusWriter remembers the status a handler wrote, for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// observe records the request in the metrics by route pattern, and names the pattern for the
// request log line: never the path's values, query string or body, which may hold personal data.
func (s *Server) observe(pattern string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if ri := infoOf(r); ri != nil {
			ri.route = pattern // for logRequests' line, which runs outside the mux
		}
		s.metrics.observeRequest(r.Method, pattern, sw.status, time.Since(start))
	})
}

// secureHeaders sets the headers every response carries: HSTS (the server speaks only
// HTTPS), no sniffing, no caching of personal data, no framing.
func (s *Server) secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a 500 and a log line with the stack, so that one bad
// request does not take the server down.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				s.log.Error("handler panicked", "route", r.Pattern, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				fail(w, r, s.log, skjold.Errorf(skjold.EINTERNAL, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// notFound answers a request no route matches: 405 with Allow when the path is served with
// other methods, and 404 otherwise.
func (s *Server) notFound() http.Handler {
	return s.observe("unmatched", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allow := s.allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			fail(w, r, s.log, skjold.Errorf(skjold.EMETHOD, "this path does not take %s: it takes %s", r.Method, strings.Join(allow, ", ")))
			return
		}
		fail(w, r, s.log, skjold.Errorf(skjold.ENOTFOUND, "no such route"))
	}))
}

// allowed returns the methods some route serves r's path with, besides the catch-all.
func (s *Server) allowed(r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	return allow
}

// retryAfter makes sure every 429 and 503 says when to try again: a handler that knows sets
// Retry-After itself; any other gets defaultRetryAfter.
func retryAfter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&retryWriter{ResponseWriter: w}, r)
	})
}

type retryWriter struct{ http.ResponseWriter }

func (w *retryWriter) WriteHeader(code int) {
	if (code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable) && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", strconv.Itoa(int(defaultRetryAfter/time.Second)))
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *retryWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
