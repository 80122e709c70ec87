package http

import (
	"net/http"

	"github.com/skjold-project/skjold"
)

func (s *Server) grantRequests() (skjold.GrantRequestService, error) {
	if s.svc.GrantRequests == nil {
		return nil, skjold.Errorf(skjold.EUNAVAILABLE, "grant requests are not available on this server")
	}
	return s.svc.GrantRequests, nil
}

func (s *Server) handleGrantRequestCreate() http.Handler {
	type request struct {
		TenantID string `json:"tenant_id"`
		Hours    int    `json:"hours"`
		Reason   string `json:"reason"`
	}
	return handle(s, http.StatusCreated, func(r *http.Request, req *request) (*skjold.GrantRequest, error) {
		svc, err := s.grantRequests()
		if err != nil {
			return nil, err
		}
		gr := &skjold.GrantRequest{TenantID: req.TenantID, Hours: req.Hours, Reason: req.Reason}
		return gr, svc.RequestGrant(r.Context(), gr)
	})
}

func (s *Server) handleGrantRequestList() http.Handler {
	type response struct {
		Items []*skjold.GrantRequest `json:"items"`
	}
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*response, error) {
		svc, err := s.grantRequests()
		if err != nil {
			return nil, err
		}
		items, err := svc.FindGrantRequests(r.Context())
		if items == nil {
			items = []*skjold.GrantRequest{}
		}
		return &response{Items: items}, err
	})
}

func (s *Server) handleGrantRequestApprove() http.Handler {
	return handle(s, http.StatusCreated, func(r *http.Request, _ *none) (*skjold.Grant, error) {
		svc, err := s.grantRequests()
		if err != nil {
			return nil, err
		}
		return svc.ApproveGrantRequest(r.Context(), r.PathValue("id"))
	})
}

func (s *Server) handleGrantRequestDeny() http.Handler {
	type request struct {
		Reason string `json:"reason"`
	}
	return handle(s, http.StatusNoContent, func(r *http.Request, req *request) (any, error) {
		svc, err := s.grantRequests()
		if err != nil {
			return nil, err
		}
		return nil, svc.DenyGrantRequest(r.Context(), r.PathValue("id"), req.Reason)
	})
}
