package http

import (
	"net/http"
	"strconv"

	"github.com/skjold-project/skjold"
)

func (s *Server) handleRequestOpen() http.Handler {
	type request struct {
		Type    string `json:"type"`
		Email   string `json:"email"`
		Phone   string `json:"phone"`
		Ref     string `json:"ref"`
		Purpose string `json:"purpose"`
	}
	return handle(s, http.StatusCreated, func(r *http.Request, req *request) (*skjold.Request, error) {
		out := &skjold.Request{Type: req.Type, Purpose: req.Purpose}
		who := skjold.SubjectLookup{Email: req.Email, Phone: req.Phone, Ref: req.Ref}
		return out, s.svc.Requests.OpenRequest(r.Context(), out, who)
	})
}

func (s *Server) handleRequestList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, err := pageOf(r)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		q := r.URL.Query()
		f := skjold.RequestFilter{Type: q.Get("type"), Status: q.Get("status"), State: q.Get("state"), Page: page}
		if v := q.Get("overdue"); v != "" {
			if f.Overdue, err = strconv.ParseBool(v); err != nil {
				fail(w, r, s.log, skjold.FieldError("overdue", "type", "overdue must be true or false"))
				return
			}
		}
		requests, err := s.svc.Requests.FindRequests(r.Context(), f)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		respond(w, http.StatusOK, list(requests, f.Page, func(r *skjold.Request) string { return r.ID }))
	})
}

func (s *Server) handleRequestGet() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.Request, error) {
		return s.svc.Requests.FindRequestByID(r.Context(), r.PathValue("id"))
	})
}

// handleRequestVerify is public: the code is the credential. Its answer names the request
// and its status only.
func (s *Server) handleRequestVerify() http.Handler {
	type request struct {
		Code string `json:"code"`
	}
	type response struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	return handle(s, http.StatusOK, func(r *http.Request, req *request) (*response, error) {
		out, err := s.svc.Requests.VerifyRequest(r.Context(), r.PathValue("id"), req.Code)
		if err != nil {
			return nil, err
		}
		return &response{ID: out.ID, Status: out.Status}, nil
	})
}

func (s *Server) handleRequestResend() http.Handler {
	return handle(s, http.StatusNoContent, func(r *http.Request, _ *none) (any, error) {
		return nil, s.svc.Requests.ResendCode(r.Context(), r.PathValue("id"))
	})
}

func (s *Server) handleRequestExtend() http.Handler {
	type request struct {
		Months int    `json:"months"`
		Reason string `json:"reason"`
	}
	return handle(s, http.StatusOK, func(r *http.Request, req *request) (*skjold.Request, error) {
		return s.svc.Requests.ExtendRequest(r.Context(), r.PathValue("id"), req.Months, req.Reason)
	})
}

func (s *Server) handleRequestRefuse() http.Handler {
	type request struct {
		Code string `json:"code"`
		Note string `json:"note"`
	}
	return handle(s, http.StatusOK, func(r *http.Request, req *request) (*skjold.Request, error) {
		return s.svc.Requests.RefuseRequest(r.Context(), r.PathValue("id"), req.Code, req.Note)
	})
}

// handleRequestComplete takes, for a rectification, the corrected profile values (null
// clears one) and record fields by record id; other request types send {}.
func (s *Server) handleRequestComplete() http.Handler {
	type profile struct {
		Ref        optString `json:"ref"`
		Email      optString `json:"email"`
		Phone      optString `json:"phone"`
		Name       optString `json:"name"`
		BirthDate  optString `json:"birth_date"`
		GuardianID optString `json:"guardian_id"`
	}
	type request struct {
		Subject profile                   `json:"subject"`
		Records map[string]map[string]any `json:"records"`
	}
	return handle(s, http.StatusOK, func(r *http.Request, req *request) (*skjold.Request, error) {
		p := req.Subject
		fix := &skjold.Rectification{Records: req.Records, Subject: skjold.SubjectUpdate{Ref: p.Ref.ptr(),
			Email: p.Email.ptr(), Phone: p.Phone.ptr(), Name: p.Name.ptr(), BirthDate: p.BirthDate.ptr(),
			GuardianID: p.GuardianID.ptr()}}
		return s.svc.Requests.CompleteRequest(r.Context(), r.PathValue("id"), fix)
	})
}

// handleDownload is public: the link's secret is the credential, and works once.
func (s *Server) handleDownload() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, content, err := s.svc.Requests.Download(r.Context(), r.PathValue("secret"))
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/zip")
		h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Length", strconv.Itoa(len(content)))
		w.WriteHeader(http.StatusOK)
		w.Write(content) // a failed write means the client is gone
	})
}

func (s *Server) handlePrivacyNoticeGet() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.PrivacyNotice, error) {
		return s.svc.Requests.PrivacyNotice(r.Context())
	})
}

func (s *Server) handlePrivacyNoticePut() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, req *skjold.PrivacyNotice) (*skjold.PrivacyNotice, error) {
		return req, s.svc.Requests.PutPrivacyNotice(r.Context(), req)
	})
}
