package http

import (
	"net/http"

	"github.com/skjold-project/skjold"
)

// handleContactCheck answers whether a subject may be contacted, 200 whether or not it may:
// the answer is in the body.
func (s *Server) handleContactCheck() http.Handler {
	type request struct {
		SubjectID string `json:"subject_id"`
		Purpose   string `json:"purpose"`
		Channel   string `json:"channel"`
		Record    bool   `json:"record"`
	}
	return handle(s, http.StatusOK, func(r *http.Request, req *request) (*skjold.ContactCheck, error) {
		if req.SubjectID == "" {
			return nil, skjold.FieldError("subject_id", "required", "subject_id is required")
		}
		c := &skjold.ContactCheck{SubjectID: req.SubjectID, Purpose: req.Purpose, Channel: req.Channel, Record: req.Record}
		if err := s.svc.Purposes.CheckContact(r.Context(), c); err != nil {
			return nil, err
		}
		return c, nil
	})
}

// handleContactSMS sends a tenant's text message to a subject behind the contact guard:
// 200 whether or not it was sent, the guard's answer in the body.
func (s *Server) handleContactSMS() http.Handler {
	type request struct {
		SubjectID string `json:"subject_id"`
		Purpose   string `json:"purpose"`
		Text      string `json:"text"`
	}
	type response struct {
		*skjold.ContactCheck
		SMSSent bool `json:"sms_sent"`
	}
	return handle(s, http.StatusOK, func(r *http.Request, req *request) (*response, error) {
		if req.SubjectID == "" {
			return nil, skjold.FieldError("subject_id", "required", "subject_id is required")
		}
		svc, ok := s.svc.Purposes.(skjold.ContactSMSService)
		if !ok {
			return nil, skjold.Errorf(skjold.EUNAVAILABLE, "this server sends no SMS")
		}
		c := &skjold.ContactCheck{SubjectID: req.SubjectID, Purpose: req.Purpose}
		sent, err := svc.SendContactSMS(r.Context(), c, req.Text)
		if err != nil {
			return nil, err
		}
		return &response{ContactCheck: c, SMSSent: sent}, nil
	})
}
