package http

import (
	"net/http"
	"strings"

	"github.com/skjold-project/skjold"
)

// sessionCookie holds a browser's session secret: HttpOnly (no script reads it), Secure
// (HTTPS only), SameSite=Strict (no other site's page sends it).
const sessionCookie = "skjold_session"

// csrfHeader carries a cookie session's CSRF token on every request that changes something.
const csrfHeader = "X-CSRF-Token"

// anonymous gives public routes a caller that holds only the client address, for the audit.
func (s *Server) anonymous(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &skjold.Caller{Actor: "anonymous", Source: clientAddr(r)}
		next.ServeHTTP(w, r.WithContext(skjold.NewContextWithCaller(r.Context(), c)))
	})
}

// authorize authenticates the request (bearer API token, bearer session token, or session
// cookie with its CSRF token), checks the session's stage and the route's permission, and
// puts the caller (with the client address and stated purpose) into the request context.
func (s *Server) authorize(p perm, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		anon := skjold.NewContextWithCaller(r.Context(), &skjold.Caller{Actor: "anonymous", Source: clientAddr(r)})
		id, err := s.authenticate(r.WithContext(anon))
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		c := callerOf(id, clientAddr(r))
		if !p.self { // a person's own account routes stay theirs, whatever tenant they read
			if c, err = s.supportCaller(r, c); err != nil {
				fail(w, r, s.log, err)
				return
			}
		}
		if err := checkAccess(p, id, c); err != nil {
			fail(w, r, s.log, err)
			return
		}
		noteCaller(r, c)
		if c.Purpose, err = purposeOf(r); err != nil {
			fail(w, r, s.log, err)
			return
		}
		ctx := skjold.NewContextWithCaller(r.Context(), c)
		if c.Purpose != "" { // registered, and the caller's to state [A2]
			if err := s.svc.Purposes.CheckStatedPurpose(ctx); err != nil {
				fail(w, r, s.log, err)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func checkAccess(p perm, id *skjold.Identity, c *skjold.Caller) error {
	if id.Session != nil {
		if err := p.allowsStage(id.Stage); err != nil {
			return err
		}
	}
	return p.allows(c)
}

// authenticate returns who sent the request.
func (s *Server) authenticate(r *http.Request) (*skjold.Identity, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") { // the scheme is case-insensitive (RFC 7235)
			return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "send an API token as \"Authorization: Bearer <token>\"")
		}
		secret = strings.TrimSpace(secret)
		if strings.HasPrefix(secret, "skjold_s_") {
			id, err := s.svc.Auth.AuthenticateSession(ctx, secret)
			if err == nil && id.Session.Kind != skjold.SessionToken {
				return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "a browser session is sent as its cookie, not as a bearer token")
			}
			return id, err
		}
		tok, err := s.svc.Tokens.Authenticate(ctx, secret)
		if err != nil {
			return nil, err
		}
		return &skjold.Identity{Token: tok, Stage: skjold.StageActive}, nil
	}
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "log in, or send an API token as \"Authorization: Bearer <token>\"")
	}
	id, err := s.svc.Auth.AuthenticateSession(ctx, ck.Value)
	if err != nil {
		return nil, err
	}
	if id.Session.Kind != skjold.SessionCookie {
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "a session token is sent as a bearer token, not a cookie")
	}
	if changes(r.Method) && !s.svc.Auth.VerifyCSRF(ctx, id.Session.ID, r.Header.Get(csrfHeader)) {
		return nil, skjold.Errorf(skjold.EFORBIDDEN, "send the session's CSRF token in the %s header", csrfHeader)
	}
	return id, nil
}

// changes reports whether a method may change something, and so needs the CSRF token.
func changes(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// callerOf turns an identity into the caller that services see.
func callerOf(id *skjold.Identity, source string) *skjold.Caller {
	if tok := id.Token; tok != nil {
		return &skjold.Caller{Actor: "token:" + tok.ID, TenantID: tok.TenantID, Operator: tok.Operator,
			Scopes: tok.Scopes, Purposes: tok.Purposes, Source: source}
	}
	u := id.User
	return &skjold.Caller{Actor: "user:" + u.ID, TenantID: u.TenantID, Operator: u.Operator(), Scopes: u.Scopes,
		Purposes: u.Purposes, Source: source, UserID: u.ID, Role: u.Role, SessionID: id.Session.ID}
}

// purposeOf returns the purpose the request states, from ?purpose= or the Skjold-Purpose
// header.
func purposeOf(r *http.Request) (string, error) {
	purpose := r.URL.Query().Get("purpose")
	if purpose == "" {
		purpose = r.Header.Get("Skjold-Purpose")
	}
	if purpose != "" && !skjold.ValidName(purpose) {
		return "", skjold.FieldError("purpose", "name", "purpose must be a lower-case name such as credit_check")
	}
	return purpose, nil
}
