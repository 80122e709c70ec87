package http

import (
	"net/http"

	"github.com/skjold-project/skjold"
)

func (s *Server) handleTenantCreate() http.Handler {
	type request struct {
		Name string `json:"name"`
	}
	type response struct {
		Tenant *skjold.Tenant `json:"tenant"`
		Token  *skjold.Token  `json:"token"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := decode(r, &req); err != nil {
			fail(w, r, s.log, err)
			return
		}
		t := &skjold.Tenant{Name: req.Name}
		tok, err := s.svc.Tenants.CreateTenant(r.Context(), t)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		locateCreated(w, r, t)
		respond(w, http.StatusCreated, response{Tenant: t, Token: tok})
	})
}

func (s *Server) handleTenantList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, err := pageOf(r)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		tenants, err := s.svc.Tenants.FindTenants(r.Context(), page)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		respond(w, http.StatusOK, list(tenants, page, func(t *skjold.Tenant) string { return t.ID }))
	})
}

func (s *Server) handleTenantGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := s.svc.Tenants.FindTenantByID(r.Context(), r.PathValue("id"))
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		respond(w, http.StatusOK, t)
	})
}

func (s *Server) handleTenantReactivate() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.Tenant, error) {
		return s.svc.Tenants.ReactivateTenant(r.Context(), r.PathValue("id"))
	})
}

func (s *Server) handleTenantCertificate() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.DeletionCertificate, error) {
		return s.svc.Tenants.FindDeletionCertificate(r.Context(), r.PathValue("id"))
	})
}
