package http

import (
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/alert"
	"github.com/skjold-project/skjold/export"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/mail"
	"github.com/skjold-project/skjold/password"
	"github.com/skjold-project/skjold/sms"
	"github.com/skjold-project/skjold/store"
	"github.com/skjold-project/skjold/totp"
)

// env is the real API over real HTTPS: a SQLite store in a temporary directory with a real
// keyring, real (if cheap) password hashing, TOTP and an outbox for e-mail, an operator
// token made through the store, and two tenants, A and B, made through the API. Every
// answer it receives is checked against the OpenAPI document.
type env struct {
	db       *store.DB
	dbPath   string // the SQLite file, for the few rows no route writes (profiles)
	closeDB  func() error
	clock    *clock // the store's clock
	outbox   string // the directory reset e-mails go to
	srv      *httptest.Server
	client   *http.Client
	logs     *logBuffer
	metrics  *Metrics
	operator string     // an operator token's secret
	a, b     tenantInfo // tenant A and tenant B, each with its first (all-scope) token
	alerts   *alert.Service
}

// clock is the store's clock: the real time plus an offset that tests move forward, so that
// idle locks, lockouts and TOTP time steps come without sleeping.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

type tenantInfo struct {
	id, token string
}

// logBuffer collects the server's log lines, so that tests can check what was logged.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	ring, err := keys.CreateKeyring(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{logs: &logBuffer{}, clock: &clock{}, dbPath: filepath.Join(dir, "skjold.db"), outbox: filepath.Join(dir, "outbox")}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	outbox, err := mail.NewOutbox(e.outbox, "skjold@test.example")
	if err != nil {
		t.Fatal(err)
	}
	texts, err := sms.NewOutbox(filepath.Join(dir, "sms-outbox"))
	if err != nil {
		t.Fatal(err)
	}
	auth := store.AuthOptions{Hasher: password.NewTestHasher(), Checker: password.NewChecker(nil), OTP: totp.TOTP{},
		Mailer: outbox, SMS: texts, ResetURL: "https://skjold.test/reset#token="}
	e.db, err = store.Open(context.Background(), e.dbPath, store.Options{Keys: keys.NewService(ring), Now: e.clock.Now,
		Logger: log.With("component", "store"), Auth: auth, Packager: export.AccessPackage, PublicURL: "https://skjold.test"})
	if err != nil {
		t.Fatal(err)
	}
	e.closeDB = sync.OnceValue(e.db.Close)
	t.Cleanup(func() { e.closeDB() })
	svc := Services{Tenants: e.db, Tokens: e.db, Subjects: e.db, Records: e.db, Categories: e.db, Audit: e.db, Auth: e.db,
		Network: e.db, Approvals: e.db, Register: e.db, Purposes: e.db, Requests: e.db, Retention: e.db, Export: e.db, Import: e.db, Budgets: e.db, Health: e.db.Ping, Cluster: e.db}
	svc.Backups = newBackupService(t, e.db, dir)
	svc.Preferences = e.db
	svc.Compliance = e.db
	svc.Documents = e.db
	svc.SubProcessors = func() []skjold.SubProcessor {
		return []skjold.SubProcessor{{Name: "SQLite", Service: "storage", Location: "this server"}}
	}
	svc.Maintenance = e.db
	svc.Incidents = e.db

	svc.DPA, svc.Registers = e.db, e.db
	e.alerts = alert.NewService(e.db, &skjold.AlertConfig{AlertSettings: skjold.AlertSettings{Source: skjold.AlertSourceNone}},
		outbox, alert.NewDispatcher(nil, outbox, log), log)
	svc.Alerts = e.alerts
	svc.GrantRequests = e.db
	e.metrics = NewMetrics("test", e.db.AuditLength)
	h := NewServer(svc, log, e.metrics, "sqlite", "test")
	e.srv = httptest.NewUnstartedServer(h)
	e.srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12} // as cmd/skjold serves it
	e.srv.Config.ErrorLog = slog.NewLogLogger(log.With("component", "http.server").Handler(), slog.LevelWarn)
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close) // runs before the store closes: cleanups run last-in, first-out
	e.client = e.srv.Client()

	tok := &skjold.Token{Name: "operator", Operator: true, Scopes: skjold.OperatorTokenScopes}
	if err := e.db.CreateToken(operatorContext(), tok); err != nil {
		t.Fatal(err)
	}
	e.operator = tok.Secret
	e.a = e.createTenant(t, "Tenant A")
	e.b = e.createTenant(t, "Tenant B")
	return e
}

// operatorContext is the context of an operator owner acting through the store directly.
func operatorContext() context.Context {
	return skjold.NewContextWithCaller(context.Background(), &skjold.Caller{Actor: "test", Operator: true,
		Role: skjold.RoleOwner, Scopes: skjold.RoleScopes(true, skjold.RoleOwner)})
}

// localContext is the command line on the server's host: the break-glass caller, which may
// make a tenant's token after the tenant's creation.
func localContext() context.Context {
	return skjold.NewContextWithCaller(context.Background(), &skjold.Caller{Actor: "cli", Operator: true, Local: true})
}

func (e *env) createTenant(t *testing.T, name string) tenantInfo {
	t.Helper()
	var out struct {
		Tenant skjold.Tenant `json:"tenant"`
		Token  skjold.Token  `json:"token"`
	}
	e.do(t, e.operator, "POST", "/api/v1/tenants", map[string]string{"name": name}).want(t, 201).decode(t, &out)
	if out.Tenant.ID == "" || out.Token.Secret == "" || out.Token.TenantID != out.Tenant.ID {
		t.Fatalf("create tenant: got %+v", out)
	}
	return tenantInfo{id: out.Tenant.ID, token: out.Token.Secret}
}

// reply is an answer of the API, read in full.
type reply struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
}

// do sends a request with token ("" for none). A string or []byte body is sent as it is, any
// other non-nil body as JSON; either way as application/json.
func (e *env) do(t *testing.T, token, method, path string, body any) *reply {
	t.Helper()
	return e.doWith(t, token, nil, method, path, body)
}

// doWith is do with more headers.
func (e *env) doWith(t *testing.T, token string, more http.Header, method, path string, body any) *reply {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	header := more.Clone()
	if header == nil {
		header = http.Header{}
	}
	if body != nil {
		header.Set("Content-Type", "application/json")
	}
	if token != "" {
		header.Set("Authorization", "Bearer "+token)
	}
	return e.send(t, method, path, header, raw)
}

// send sends a request with exactly the given headers and body (nil for none).
func (e *env) send(t *testing.T, method, path string, header http.Header, body []byte) *reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	r := &reply{method: method, path: path, status: resp.StatusCode, header: resp.Header}
	if r.body, err = io.ReadAll(resp.Body); err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	checkDocumented(t, req, body, r)
	return r
}

// want fails the test unless the status is one of statuses.
func (r *reply) want(t *testing.T, statuses ...int) *reply {
	t.Helper()
	for _, s := range statuses {
		if r.status == s {
			return r
		}
	}
	t.Fatalf("%s %s: status %d, want %v; body %s", r.method, r.path, r.status, statuses, r.body)
	return r
}

func (r *reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s %s: decode %s: %v", r.method, r.path, r.body, err)
	}
}

// wantError fails the test unless the answer is a JSON error with this status and code and a
// message; it returns the error's details.
func (r *reply) wantError(t *testing.T, status int, code string) errorDetail {
	t.Helper()
	r.want(t, status)
	var body errorBody
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("%s %s: error body %s: %v", r.method, r.path, r.body, err)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s %s: error Content-Type %q", r.method, r.path, ct)
	}
	if body.Error.Code != code || body.Error.Message == "" {
		t.Fatalf("%s %s: error %+v, want code %q with a message", r.method, r.path, body.Error, code)
	}
	// The problem document says what the old error object says.
	if body.Type != "urn:skjold:problem:"+code || body.Title == "" || body.Status != status || body.Detail != body.Error.Message ||
		body.Code != code || body.Field != body.Error.Field || body.Rule != body.Error.Rule {
		t.Errorf("%s %s: problem document %s disagrees with its error object", r.method, r.path, r.body)
	}
	if body.Field != "" && (len(body.Errors) == 0 || body.Errors[0].Field != body.Field || body.Errors[0].Rule != body.Rule) {
		t.Errorf("%s %s: errors %+v do not start with field %q", r.method, r.path, body.Errors, body.Field)
	}
	return body.Error
}

// createSubject creates a subject with token and returns it.
func (e *env) createSubject(t *testing.T, token string, body any) *skjold.Subject {
	t.Helper()
	var s skjold.Subject
	e.do(t, token, "POST", "/api/v1/subjects", body).want(t, 201).decode(t, &s)
	return &s
}

// createRecord creates a record about subjectID with token and returns it.
func (e *env) createRecord(t *testing.T, token, subjectID string, body any) *skjold.Record {
	t.Helper()
	var rec skjold.Record
	e.do(t, token, "POST", "/api/v1/subjects/"+subjectID+"/records", body).want(t, 201).decode(t, &rec)
	return &rec
}

// createToken creates a token with token and returns it with its secret.
func (e *env) createToken(t *testing.T, token, name string, scopes ...string) *skjold.Token {
	t.Helper()
	var tok skjold.Token
	e.do(t, token, "POST", "/api/v1/tokens", map[string]any{"name": name, "scopes": scopes}).want(t, 201).decode(t, &tok)
	return &tok
}

// auditLength is the number of events in the audit chain.
func (e *env) auditLength(t *testing.T) int64 {
	t.Helper()
	n, err := e.db.AuditLength(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// subjectCount counts tenant A's subjects in the database beside the store: a check of state
// that reads no subject, so that it spends no read budget however often a test makes it.
func (e *env) subjectCount(t *testing.T) int {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+e.dbPath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRow("SELECT COUNT(*) FROM subjects WHERE tenant_id = ?", e.a.id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// count returns how many items a list route returns, following every page.
func (e *env) count(t *testing.T, token, path string) int {
	t.Helper()
	n, after := 0, ""
	for {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		var page struct {
			Items []json.RawMessage `json:"items"`
			Next  string            `json:"next"`
		}
		e.do(t, token, "GET", path+sep+"limit=500&after="+after, nil).want(t, 200).decode(t, &page)
		n += len(page.Items)
		if page.Next == "" {
			return n
		}
		after = page.Next
	}
}

// unchanged runs fn and fails the test if the audit chain or tenant A's subjects changed.
func (e *env) unchanged(t *testing.T, fn func()) {
	t.Helper()
	subjects := e.subjectCount(t)
	events := e.auditLength(t)
	fn()
	if got := e.auditLength(t); got != events {
		t.Errorf("the audit chain grew from %d to %d events: the refused request changed something", events, got)
	}
	if got := e.subjectCount(t); got != subjects {
		t.Errorf("tenant A has %d subjects, had %d: the refused request changed something", got, subjects)
	}
}

func TestHTTPSOnly(t *testing.T) {
	e := newEnv(t)
	addr := strings.TrimPrefix(e.srv.URL, "https://")

	t.Run("plain HTTP is refused", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://"+addr+"/healthz", nil)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			return // refused outright is as good
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode < 300 || bytes.Contains(body, []byte(`"status"`)) {
			t.Fatalf("plain HTTP got %d %s", resp.StatusCode, body)
		}
	})

	t.Run("responses carry HSTS and the other security headers", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/api/v1/subjects", "/no/such/route"} {
			r := e.do(t, e.a.token, "GET", path, nil)
			for name, want := range map[string]string{
				"Strict-Transport-Security": "max-age=63072000; includeSubDomains",
				"X-Content-Type-Options":    "nosniff",
				"Cache-Control":             "no-store",
			} {
				if got := r.header.Get(name); got != want {
					t.Errorf("GET %s: %s = %q, want %q", path, name, got, want)
				}
			}
		}
	})

	t.Run("TLS 1.1 cannot connect", func(t *testing.T) {
		for _, v := range []struct {
			name    string
			max     uint16
			connect bool
		}{{"TLS 1.0", tls.VersionTLS10, false}, {"TLS 1.1", tls.VersionTLS11, false}, {"TLS 1.2", tls.VersionTLS12, true}} {
			tr := e.client.Transport.(*http.Transport).Clone()
			tr.TLSClientConfig.MinVersion, tr.TLSClientConfig.MaxVersion = tls.VersionTLS10, v.max
			resp, err := (&http.Client{Transport: tr}).Get(e.srv.URL + "/healthz")
			if err == nil {
				resp.Body.Close()
			}
			switch {
			case v.connect && err != nil:
				t.Errorf("%s: %v", v.name, err)
			case !v.connect && err == nil:
				t.Errorf("%s connected", v.name)
			case !v.connect && !strings.Contains(err.Error(), "protocol version"):
				t.Errorf("%s refused for another reason: %v", v.name, err)
			}
			tr.CloseIdleConnections()
		}
	})
}

func TestHealth(t *testing.T) {
	e := newEnv(t)
	var h struct{ Status, Engine, Version string }
	e.do(t, "", "GET", "/healthz", nil).want(t, 200).decode(t, &h)
	if h.Status != "ok" || h.Engine != "sqlite" || h.Version != "test" {
		t.Errorf("health %+v", h)
	}
	e.closeDB()
	e.do(t, "", "GET", "/healthz", nil).want(t, 503).decode(t, &h)
	if h.Status != "unavailable" {
		t.Errorf("health with the store closed: %+v", h)
	}
}

// TestInternalErrorsDoNotLeak closes the store under the server: every route then fails on
// our side, and must say only "internal error" while the log keeps the cause.
func TestInternalErrorsDoNotLeak(t *testing.T) {
	e := newEnv(t)
	s := e.createSubject(t, e.a.token, map[string]string{"name": "Anna"})
	e.closeDB()
	for _, c := range []struct{ token, method, path string }{
		{e.a.token, "GET", "/api/v1/subjects/" + s.ID},
		{e.a.token, "GET", "/api/v1/subjects"},
		{e.operator, "GET", "/api/v1/tenants"},
		{e.operator, "GET", "/api/v1/audit/verify"},
	} {
		r := e.do(t, c.token, c.method, c.path, nil)
		r.wantError(t, 500, skjold.EINTERNAL)
		if want := internalProblem; string(r.body) != want {
			t.Errorf("%s %s: body %q, want %q", c.method, c.path, r.body, want)
		}
	}
	// A write gets as far as the stopped writer (its token and category were read moments
	// ago), which says so without detail.
	e.do(t, e.a.token, "POST", "/api/v1/subjects", map[string]string{"name": "Bo"}).wantError(t, 503, skjold.EUNAVAILABLE)
	logs := e.logs.String()
	if !strings.Contains(logs, "request failed") || !strings.Contains(logs, "database is closed") {
		t.Errorf("the cause of the internal error was not logged:\n%s", logs)
	}
	if strings.Contains(logs, e.a.token) || strings.Contains(logs, "Anna") {
		t.Errorf("the log holds a secret or personal data:\n%s", logs)
	}
}

// TestPanicsAreInternalErrors checks that a panicking handler gives a plain internal error.
func TestPanicsAreInternalErrors(t *testing.T) {
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h := s.recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(errors.New("secret cause")) }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 500 || w.Body.String() != internalProblem {
		t.Errorf("panic gave %d %q", w.Code, w.Body)
	}
}
