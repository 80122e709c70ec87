package http

import (
	"context"
	"net/http"

	"github.com/skjold-project/skjold"
)

// compliance returns the compliance service, or EUNAVAILABLE when the server has none.
func (s *Server) compliance() (skjold.ComplianceService, error) {
	if s.svc.Compliance == nil {
		return nil, skjold.Errorf(skjold.EUNAVAILABLE, "the compliance check is not configured on this server")
	}
	return s.svc.Compliance, nil
}

// complianceReport runs the checks the caller may see: the operator's and every tenant's, or
// the caller's tenant's. The API, the console and the metrics all read it.
func (s *Server) complianceReport(ctx context.Context) (*skjold.ComplianceReport, error) {
	svc, err := s.compliance()
	if err != nil {
		return nil, err
	}
	return svc.Compliance(ctx)
}

// handleCompliance answers GET /api/v1/compliance.
func (s *Server) handleCompliance() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.ComplianceReport, error) {
		return s.complianceReport(r.Context())
	})
}

// handleComplianceProfileGet answers GET /api/v1/compliance/profile.
func (s *Server) handleComplianceProfileGet() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.ComplianceProfile, error) {
		svc, err := s.compliance()
		if err != nil {
			return nil, err
		}
		return svc.ComplianceProfile(r.Context())
	})
}

// handleComplianceProfilePut answers PUT /api/v1/compliance/profile; fields left out of the
// body keep their current values.
func (s *Server) handleComplianceProfilePut() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, err := s.compliance()
		var p *skjold.ComplianceProfile
		if err == nil {
			p, err = svc.ComplianceProfile(r.Context())
		}
		if err == nil {
			err = decode(r, p)
		}
		if err == nil {
			err = svc.PutComplianceProfile(r.Context(), p)
		}
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		respond(w, http.StatusOK, p)
	})
}
