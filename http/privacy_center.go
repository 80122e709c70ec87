package http

import (
	"crypto/subtle"
	"net/http"
	"sync"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
	"github.com/skjold-project/skjold/web"
)

// The privacy center: a tenant's public pages for its data subjects under /p/{slug}/, in the
// console's page shell, catalogues and styles. Its pages and forms are screened like every
// route (bans, block list, detectors), limited per address and per tenant, carry the
// console's CSP and no-store, and its forms a double-submit CSRF token. No page puts
// personal data in a URL: addresses and codes travel in POST bodies only.

const (
	// pcCSRFCookie binds the privacy center's forms to this browser (double submit).
	pcCSRFCookie = "skjold_pc"
	// pcLangCookie remembers the language chosen on the privacy center.
	pcLangCookie = "skjold_pc_lang"
	// pcStatusCookie holds the secret of a verified request's status page, for one tenant.
	pcStatusCookie = "skjold_pc_status"
)

// Rate limits of the privacy center: per client address and per tenant, for pages and for
// forms, in a fixed window. Tests lower them.
var (
	pcWindow          = 10 * time.Minute
	pcPagesPerAddr    = 300
	pcFormsPerAddr    = 20
	pcFormsPerTenant  = 1000
	pcPagesPerTenant  = 20000
	pcLimiterCapacity = 100_000
)

// pcLimiter counts requests per key in fixed windows.
type pcLimiter struct {
	mu     sync.Mutex
	start  time.Time
	counts map[string]int
}

// allow counts one request for key and reports whether it stays within max.
func (l *pcLimiter) allow(key string, max int, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts == nil || now.Sub(l.start) >= pcWindow || len(l.counts) >= pcLimiterCapacity {
		l.start, l.counts = now, map[string]int{}
	}
	l.counts[key]++
	return l.counts[key] <= max
}

// retryIn returns how long until the current window ends.
func (l *pcLimiter) retryIn(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return max(time.Second, pcWindow-now.Sub(l.start))
}

// pcLimits holds each server's limiter (one per process in production; tests make many).
var pcLimits sync.Map // *Server → *pcLimiter

func (s *Server) pcLimiter() *pcLimiter {
	l, _ := pcLimits.LoadOrStore(s, &pcLimiter{})
	return l.(*pcLimiter)
}

// privacyData is what every privacy-center page shows besides its own content.
type privacyData struct {
	Tenant    *skjold.PublicTenant
	Base      string // /p/{slug}/
	Types     []string
	Notice    *skjold.PublicNotice
	Type      string
	Purposes  []*skjold.Purpose
	RequestID string
	Request   *skjold.Request
	Sent      bool
	// ProposalFields are the profile fields a rectification proposes values for.
	ProposalFields []string
	// ContactMode is the mode of the tenant's contact form, on its pages.
	ContactMode string
}

// privacyTypes are the rights in the order the notice names them.
var privacyTypes = []string{skjold.RequestAccess, skjold.RequestRectification, skjold.RequestErasure,
	skjold.RequestRestriction, skjold.RequestObjection, skjold.RequestPortability, skjold.RequestConsentWithdraw}

type privacyKey struct{}

// privacyRoutes are the privacy center's pages and forms.
func (s *Server) privacyRoutes() []route {
	return append([]route{
		{"GET /p/{slug}/{$}", public, s.handlePrivacyNotice()},
		{"GET /p/{slug}/request", public, s.handlePrivacyRequestPage()},
		{"POST /p/{slug}/request", public, s.handlePrivacyRequest()},
		{"POST /p/{slug}/verify", public, s.handlePrivacyVerify()},
		{"GET /p/{slug}/status", public, s.handlePrivacyStatus()},
		{"POST /p/{slug}/status/package", public, s.handlePrivacyPackage()},
		{"GET /p/{slug}/contact", public, s.handlePrivacyContactPage()},
		{"POST /p/{slug}/contact", public, s.handlePrivacyContact()},
	}, s.privacySelfRoutes()...)
}

// privacyGuard wraps a privacy-center route: metrics and log line by pattern, the console's
// headers, the rate limits, the tenant by slug, the language, and on POST the CSRF check.
func (s *Server) privacyGuard(rt route) http.Handler {
	return s.observe(rt.pattern, consoleHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pc := s.svc.PrivacyCenter
		t, err := pc.PublicTenant(r.Context(), r.PathValue("slug"))
		if err != nil {
			s.privacyFail(w, r, http.StatusNotFound, "error.not_found")
			return
		}
		post := r.Method == http.MethodPost
		now := time.Now()
		perAddr, perTenant := pcPagesPerAddr, pcPagesPerTenant
		if post {
			perAddr, perTenant = pcFormsPerAddr, pcFormsPerTenant
		}
		kind := "page:"
		if post {
			kind = "form:"
		}
		if l := s.pcLimiter(); !l.allow(kind+"addr:"+clientAddr(r), perAddr, now) || !l.allow(kind+"tenant:"+t.ID, perTenant, now) {
			s.privacyTooMany(w, r, now)
			return
		}
		c := &skjold.Caller{Actor: "anonymous", Source: clientAddr(r)}
		r = r.WithContext(skjold.NewContextWithCaller(r.Context(), c))
		token := ""
		if ck, err := r.Cookie(pcCSRFCookie); err == nil && len(ck.Value) == 43 {
			token = ck.Value
		}
		if post {
			// a form posted from the tenant's own website (pcCrossSite) carries no token
			if !readForm(w, r) || !pcCrossSite[rt.pattern] && (token == "" ||
				subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(token)) != 1) {
				s.privacyFail(w, r, http.StatusForbidden, "error.expired")
				return
			}
		}
		if token == "" {
			token = newSecret()
			http.SetCookie(w, &http.Cookie{Name: pcCSRFCookie, Value: token, Path: "/p/", HttpOnly: true, Secure: true,
				SameSite: http.SameSiteStrictMode})
		}
		lang := s.privacyLanguage(w, r)
		v := web.View{Path: r.URL.Path, CSRF: token, Cat: s.pages.Bundle().Get(lang),
			Data: &privacyData{Tenant: t, Base: "/p/" + t.Slug + "/", Types: privacyTypes,
				ProposalFields: []string{"name", "email", "phone", "birth_date"}}}
		cr := &consoleRequest{view: v}
		rt.handler.ServeHTTP(w, r.WithContext(contextWith(r, cr)))
	})))
}

// privacyLanguage returns the reader's language: one chosen by ?lang= (remembered on this
// browser), else the one remembered, else the best match of Accept-Language.
func (s *Server) privacyLanguage(w http.ResponseWriter, r *http.Request) string {
	if lang := r.URL.Query().Get("lang"); i18n.Supported(lang) {
		http.SetCookie(w, &http.Cookie{Name: pcLangCookie, Value: lang, Path: "/p/", HttpOnly: true, Secure: true,
			SameSite: http.SameSiteLaxMode, MaxAge: 365 * 24 * 3600})
		return lang
	}
	if ck, err := r.Cookie(pcLangCookie); err == nil && i18n.Supported(ck.Value) {
		return ck.Value
	}
	return s.pages.Bundle().Match(r.Header.Get("Accept-Language"))
}

// privacyFail answers with the privacy center's error page, in the reader's language.
func (s *Server) privacyFail(w http.ResponseWriter, r *http.Request, status int, title string) {
	w.Header().Set("Content-Security-Policy", consoleCSP)
	w.Header().Set("Cache-Control", "no-store")
	d := &privacyData{Tenant: &skjold.PublicTenant{Name: "Skjold"}}
	if cr, ok := r.Context().Value(consoleKey{}).(*consoleRequest); ok {
		if pd, ok := cr.view.Data.(*privacyData); ok {
			d = pd
		}
	}
	v := &web.View{Path: r.URL.Path, Cat: s.pages.Bundle().Get(s.privacyLanguage(w, r)), Title: title, Data: d}
	s.render(w, r, status, "privacy.error", v)
}

func privacyOf(r *http.Request) (*web.View, *privacyData) {
	cr := consoleOf(r)
	v := cr.newView("")
	return v, v.Data.(*privacyData)
}

// handlePrivacyNotice shows the privacy notice, built from the tenant's settings as they are.
func (s *Server) handlePrivacyNotice() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, d := privacyOf(r)
		n, err := s.svc.PrivacyCenter.PublicNotice(r.Context(), d.Tenant.ID)
		if err != nil {
			s.log.Error("privacy notice not read", "err", err)
			s.privacyFail(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
		d.Notice = n
		v.Title = "privacy.notice.title"
		s.render(w, r, http.StatusOK, "privacy.notice", v)
	})
}
