package http

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
	"github.com/skjold-project/skjold/web"
)

// The console is the web panel for people [I1]: server-rendered pages under /console/ that
// call the same services as the API, behind the same permission declarations, stages,
// support grants, address screening and metrics. What differs is how a request proves who
// sent it: the session cookie only (never a bearer token), and a CSRF token in a form field
// rather than a header. The routes are in console_routes.go; the pages' templates, styles
// and messages are in the web and i18n packages.

// consoleCSP is the content security policy of every console page: nothing but Skjold's own
// files, no inline script or style, no framing; forms post only to Skjold.
const consoleCSP = "default-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

const (
	// csrfCookie holds the session's CSRF token, set at the console's login, so that every
	// page can put it into its forms. It is HttpOnly like the session cookie: a form
	// field proves that the request came from a page of ours, since no other site can read
	// either cookie or send them (SameSite=Strict).
	csrfCookie = "skjold_csrf"
	// preCookie binds the forms shown before login (log in, forgotten password, reset,
	// language) to this browser: a random value, echoed in the form (double submit), so
	// that another site cannot log a visitor into an account of its own.
	preCookie = "skjold_pre"
	// langCookie remembers the language chosen before login, on this browser.
	langCookie = "skjold_lang"
	// maxForm is the largest form body the console reads.
	maxForm = 64 << 10
	// maxUpload is the largest multipart form body the console reads: a signed agreement or
	// a destruction certificate of at most skjold.MaxDPAScan, and the form around it.
	maxUpload = skjold.MaxDPAScan + 64<<10
)

// consolePages are the parsed templates and catalogues, made once per process.
var consolePages = sync.OnceValues(func() (*web.Renderer, error) {
	b, err := i18n.New(nil)
	if err != nil {
		return nil, err
	}
	return web.New(b)
})

type consoleKey struct{}

// consoleRequest is what the console's guard learned about a request, for its handler.
type consoleRequest struct {
	id   *skjold.Identity // nil on public pages
	view web.View         // the base of the page's view: language, CSRF token, user, menu
}

func consoleOf(r *http.Request) *consoleRequest {
	return r.Context().Value(consoleKey{}).(*consoleRequest)
}

// view returns a fresh copy of the request's base view, for one page.
func (cr *consoleRequest) newView(title string) *web.View {
	v := cr.view
	v.Title = title
	v.Errors = map[string]string{}
	v.Form = map[string]string{}
	return &v
}

// consoleGuard wraps a console route's handler with what every console route gets:
// metrics and a log line, the console's headers, and either the pre-login CSRF check
// (public routes) or authentication by session cookie, the stage, the route's permission
// and the session's CSRF token.
func (s *Server) consoleGuard(rt route) http.Handler {
	h := rt.handler
	if rt.perm.public {
		h = s.consolePublic(h)
	} else {
		h = s.consoleAuthorize(rt.perm, h)
	}
	return s.observe(rt.pattern, consoleHeaders(h))
}

func consoleHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", consoleCSP)
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// consolePublic serves a page before login: an anonymous caller, and on POST the
// pre-login CSRF check.
func (s *Server) consolePublic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &skjold.Caller{Actor: "anonymous", Source: clientAddr(r)}
		r = r.WithContext(skjold.NewContextWithCaller(r.Context(), c))
		token := ""
		if ck, err := r.Cookie(preCookie); err == nil && len(ck.Value) == 43 {
			token = ck.Value
		}
		if r.Method == http.MethodPost {
			if !readForm(w, r) || token == "" ||
				subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(token)) != 1 {
				s.consoleExpired(w, r)
				return
			}
		}
		if token == "" {
			token = newSecret()
			http.SetCookie(w, &http.Cookie{Name: preCookie, Value: token, Path: "/console/", HttpOnly: true, Secure: true,
				SameSite: http.SameSiteStrictMode})
		}
		cr := &consoleRequest{view: s.baseView(r, nil, token)}
		next.ServeHTTP(w, r.WithContext(contextWith(r, cr)))
	})
}

func contextWith(r *http.Request, cr *consoleRequest) context.Context {
	return context.WithValue(r.Context(), consoleKey{}, cr)
}

// consoleAuthorize authenticates a console request by its session cookie and applies the
// route's stage and permission exactly as the API's guard does. Whoever is not logged in
// is sent to the login page, a session in a login step to that step's page.
func (s *Server) consoleAuthorize(p perm, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		anon := skjold.NewContextWithCaller(r.Context(), &skjold.Caller{Actor: "anonymous", Source: clientAddr(r)})
		id, err := s.consoleIdentity(r.WithContext(anon))
		if err != nil {
			s.consoleFail(w, r, nil, err)
			return
		}
		c := callerOf(id, clientAddr(r))
		work, err := s.consoleWork(w, r, c)
		if err != nil && !p.self {
			s.consoleFail(w, r, id, err)
			return
		}
		if work != nil && !p.self {
			c = work.caller
		}
		if err := p.allowsStage(id.Stage); err != nil {
			http.Redirect(w, r, stagePath(id.Stage, r.URL.Path), http.StatusSeeOther)
			return
		}
		if err := p.allows(c); err != nil {
			s.consoleFail(w, r, id, err)
			return
		}
		noteCaller(r, c)
		ctx := skjold.NewContextWithCaller(r.Context(), c)
		r = r.WithContext(ctx)
		csrf := ""
		if ck, err := r.Cookie(csrfCookie); err == nil {
			csrf = ck.Value
		}
		if r.Method == http.MethodPost {
			if !readForm(w, r) || !s.svc.Auth.VerifyCSRF(ctx, id.Session.ID, r.PostForm.Get("csrf")) {
				s.consoleExpired(w, r)
				return
			}
		}
		cr := &consoleRequest{id: id, view: s.baseView(r, id, csrf)}
		work.show(&cr.view, r)
		s.showMaintenance(ctx, &cr.view)
		s.showDPA(ctx, &cr.view, r.URL.Path)
		next.ServeHTTP(w, r.WithContext(contextWith(r, cr)))
	})
}

// consoleIdentity returns the identity of the request's session cookie. A bearer token is
// not a console credential: the console is for people in a browser.
func (s *Server) consoleIdentity(r *http.Request) (*skjold.Identity, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "log in first")
	}
	id, err := s.svc.Auth.AuthenticateSession(r.Context(), ck.Value)
	if err != nil {
		return nil, err
	}
	if id.Session.Kind != skjold.SessionCookie {
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "log in first")
	}
	return id, nil
}

// readForm parses a urlencoded form body of at most maxForm bytes into r.PostForm, or a
// multipart one (an uploaded PDF) of at most maxUpload bytes.
func readForm(w http.ResponseWriter, r *http.Request) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
		return r.ParseMultipartForm(1<<20) == nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	return r.ParseForm() == nil
}

// stagePath returns the page of a login step; for a locked session it remembers the page
// to come back to.
func stagePath(stage, from string) string {
	switch stage {
	case skjold.StageSecondFactor:
		return "/console/login/code"
	case skjold.StageChangePassword:
		return "/console/password"
	case skjold.StageEnrolTwoFactor:
		return "/console/two-factor"
	case skjold.StageConfirmEmail:
		return "/console/confirm-email"
	case skjold.StageLocked:
		return "/console/lock?next=" + url.QueryEscape(localPath(from))
	}
	return "/console/"
}

// localPath returns p when it is a console page's path, and the overview otherwise, so that
// a "next" parameter cannot send anyone elsewhere.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/console/") || strings.ContainsAny(p, "\\?#") || strings.Contains(p, "//") ||
		strings.HasPrefix(p, web.StaticPrefix) {
		return "/console/"
	}
	return p
}

// baseView starts every page's view: the reader's language, the form token, and for a
// logged-in person the menu of the pages their role may open and the idle lock.
func (s *Server) baseView(r *http.Request, id *skjold.Identity, csrf string) web.View {
	v := web.View{Path: r.URL.Path, CSRF: csrf}
	v.Cat = s.pages.Bundle().Get(s.language(r, id))
	if m := r.URL.Query().Get("m"); m != "" && v.Cat.Has("notice."+m) {
		v.Notice = "notice." + m
	}
	if id == nil {
		return v
	}
	v.User, v.SessionID = id.User, id.Session.ID
	if id.Stage != skjold.StageActive {
		v.Stage = id.Stage
		return v
	}
	c := skjold.CallerFromContext(r.Context())
	for _, item := range consoleNav {
		if item.perm.allows(c) == nil {
			v.Nav = append(v.Nav, web.NavItem{Href: item.href, Key: item.key, Current: item.href == r.URL.Path})
		}
	}
	if set, err := s.svc.Auth.SessionSettings(r.Context()); err == nil {
		v.IdleSeconds = set.IdleMinutes * 60
	}
	return v
}

// language returns the reader's language: the one a logged-in person saved, else the one
// chosen on this browser, else the best match of the browser's Accept-Language.
func (s *Server) language(r *http.Request, id *skjold.Identity) string {
	if id != nil && s.svc.Preferences != nil {
		if lang, err := s.svc.Preferences.Language(r.Context()); err == nil && i18n.Supported(lang) {
			return lang
		}
	}
	if ck, err := r.Cookie(langCookie); err == nil && i18n.Supported(ck.Value) {
		return ck.Value
	}
	return s.pages.Bundle().Match(r.Header.Get("Accept-Language"))
}

// render writes a page with status.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, v *web.View) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var buf strings.Builder
	if err := s.pages.Render(&buf, page, v); err != nil {
		s.log.Error("page not rendered", "route", r.Pattern, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(buf.String()))
}

// consoleFail answers a request the guard or a handler refuses: not logged in (or the
// session ended) goes to the login page; forbidden, missing and failed requests get an
// error page in the reader's language, with the status the API would give.
func (s *Server) consoleFail(w http.ResponseWriter, r *http.Request, id *skjold.Identity, err error) {
	code := skjold.ErrorCode(err)
	if code == skjold.EUNAUTHORIZED {
		http.Redirect(w, r, "/console/login", http.StatusSeeOther)
		return
	}
	if code == skjold.EINTERNAL {
		s.log.Error("request failed", "method", r.Method, "route", r.Pattern, "err", err)
	}
	title := map[string]string{skjold.EFORBIDDEN: "error.forbidden", skjold.ENOTFOUND: "error.not_found"}[code]
	if title == "" {
		title = "error.internal"
	}
	status, ok := statuses[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	cr := &consoleRequest{view: s.baseView(r, nil, "")}
	if id != nil && id.User != nil {
		cr.view.User = id.User
	}
	s.render(w, r, status, "error", cr.newView(title))
}

// consoleExpired answers a form whose CSRF token is missing or wrong: a stale page, or
// another site's forgery. Nothing is done; the reader is asked to try again.
func (s *Server) consoleExpired(w http.ResponseWriter, r *http.Request) {
	cr := &consoleRequest{view: s.baseView(r, nil, "")}
	s.render(w, r, http.StatusForbidden, "error", cr.newView("error.expired"))
}

// newSecret returns 32 random bytes, base64url-encoded (43 characters).
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// setSessionCookies gives the browser a new session and its CSRF token.
func setSessionCookies(w http.ResponseWriter, sess *skjold.Session) {
	for name, value := range map[string]string{sessionCookie: sess.Secret, csrfCookie: sess.CSRF} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", Expires: sess.ExpiresAt,
			HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	}
}

// clearSessionCookies removes the session from the browser.
func clearSessionCookies(w http.ResponseWriter) {
	for _, name := range []string{sessionCookie, csrfCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", Expires: time.Unix(0, 0), MaxAge: -1,
			HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	}
}

// message returns the reader's message for a refused request: the field rule's own message
// where the catalogue has one, else one per error code. It never shows the domain message,
// which is English.
func message(cat *i18n.Catalogue, err error, args ...any) string {
	var e *skjold.Error
	if errors.As(err, &e) && e.Field != "" && e.Rule != "" {
		for _, key := range []string{"err." + e.Field + "_" + e.Rule, "err." + e.Rule} {
			if cat.Has(key) {
				return cat.T(key, args...)
			}
		}
	}
	key := map[string]string{
		skjold.ETOOMANY: "err.too_many", skjold.EUNAVAILABLE: "err.unavailable", skjold.ECONFLICT: "err.conflict",
		skjold.EFORBIDDEN: "err.forbidden", skjold.EINVALID: "err.invalid", skjold.ETOOLARGE: "err.invalid",
	}[skjold.ErrorCode(err)]
	if key == "" {
		key = "err.internal"
	}
	return cat.T(key)
}

// fieldOf returns the field a domain error names, or "".
func fieldOf(err error) (field, rule string) {
	var e *skjold.Error
	if errors.As(err, &e) {
		return e.Field, e.Rule
	}
	return "", ""
}
