package http

import (
	"net/http"
	"time"

	"github.com/skjold-project/skjold"
)

func (s *Server) handleTokenCreate() http.Handler {
	type request struct {
		Name      string   `json:"name"`
		Scopes    []string `json:"scopes"`
		Purposes  []string `json:"purposes"`
		TenantID  string   `json:"tenant_id"`
		Operator  bool     `json:"operator"`
		ExpiresAt *string  `json:"expires_at"` // parsed here, so that errors name the field
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := decode(r, &req); err != nil {
			fail(w, r, s.log, err)
			return
		}
		c := skjold.CallerFromContext(r.Context())
		if !c.Operator && req.TenantID == "" {
			req.TenantID = c.TenantID // a tenant token makes tokens for its own tenant
		}
		var expires *time.Time
		if req.ExpiresAt != nil {
			t, err := time.Parse(time.RFC3339Nano, *req.ExpiresAt)
			if err != nil {
				fail(w, r, s.log, skjold.FieldError("expires_at", "datetime", "expires_at must be a date and time in RFC 3339 form"))
				return
			}
			if !t.After(time.Now()) {
				fail(w, r, s.log, skjold.FieldError("expires_at", "past", "expires_at must be in the future"))
				return
			}
			expires = &t
		}
		if req.Scopes == nil {
			req.Scopes = []string{} // answered as [], as lists answer it, not null
		}
		tok := &skjold.Token{Name: req.Name, Scopes: req.Scopes, Purposes: req.Purposes, TenantID: req.TenantID,
			Operator: req.Operator, ExpiresAt: expires}
		if err := s.svc.Tokens.CreateToken(r.Context(), tok); err != nil {
			fail(w, r, s.log, err)
			return
		}
		locateCreated(w, r, tok)
		respond(w, http.StatusCreated, tok)
	})
}

func (s *Server) handleTokenList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, err := pageOf(r)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		tokens, err := s.svc.Tokens.FindTokens(r.Context(), page)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		respond(w, http.StatusOK, list(tokens, page, func(t *skjold.Token) string { return t.ID }))
	})
}

func (s *Server) handleTokenRevoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.svc.Tokens.RevokeToken(r.Context(), r.PathValue("id")); err != nil {
			fail(w, r, s.log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
