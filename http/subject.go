package http

import (
	"fmt"
	"net/http"

	"github.com/skjold-project/skjold"
)

func (s *Server) handleSubjectCreate() http.Handler {
	type request struct {
		Ref        string `json:"ref"`
		Email      string `json:"email"`
		Phone      string `json:"phone"`
		Name       string `json:"name"`
		BirthDate  string `json:"birth_date"`
		GuardianID string `json:"guardian_id"`
		// Relationship is "prospect" (an enquiry, which expires on its own) or "active" (the default).
		Relationship string `json:"relationship"`
		// Records are the subject's first records, created with it in one write: a booking
		// system stores a traveller and the booking in one round trip.
		Records []struct {
			Category string         `json:"category"`
			Data     map[string]any `json:"data"`
		} `json:"records"`
	}
	type response struct {
		*skjold.Subject
		Records []*skjold.Record `json:"records,omitempty"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := decode(r, &req); err != nil {
			fail(w, r, s.log, err)
			return
		}
		sub := &skjold.Subject{Ref: req.Ref, Email: req.Email, Phone: req.Phone, Name: req.Name,
			BirthDate: req.BirthDate, GuardianID: req.GuardianID, Relationship: req.Relationship}
		recs := make([]*skjold.Record, len(req.Records))
		for i, rr := range req.Records {
			if rr.Category == "" {
				fail(w, r, s.log, skjold.FieldError(fmt.Sprintf("records[%d].category", i), "required", "records[%d]: category is required", i))
				return
			}
			recs[i] = &skjold.Record{Category: rr.Category, Data: rr.Data}
		}
		if err := s.svc.Subjects.CreateSubjectWithRecords(r.Context(), sub, recs); err != nil {
			fail(w, r, s.log, err)
			return
		}
		locateCreated(w, r, sub)
		setETag(w, sub.Version)
		respond(w, http.StatusCreated, response{Subject: sub, Records: recs})
	})
}

func (s *Server) handleSubjectList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, err := pageOf(r)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		q := r.URL.Query()
		f := skjold.SubjectFilter{Email: q.Get("email"), Phone: q.Get("phone"), Ref: q.Get("ref"), Page: page}
		subjects, err := s.svc.Subjects.FindSubjects(r.Context(), f)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		respond(w, http.StatusOK, list(subjects, f.Page, func(s *skjold.Subject) string { return s.ID }))
	})
}

func (s *Server) handleSubjectGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub, err := s.svc.Subjects.FindSubjectByID(r.Context(), r.PathValue("id"))
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		setETag(w, sub.Version)
		respond(w, http.StatusOK, sub)
	})
}

func (s *Server) handleSubjectUpdate() http.Handler {
	type request struct {
		Ref        optString `json:"ref"`
		Email      optString `json:"email"`
		Phone      optString `json:"phone"`
		Name       optString `json:"name"`
		BirthDate  optString `json:"birth_date"`
		GuardianID optString `json:"guardian_id"`
	}
	return s.conditional(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := decode(r, &req); err != nil {
			fail(w, r, s.log, err)
			return
		}
		upd := skjold.SubjectUpdate{Ref: req.Ref.ptr(), Email: req.Email.ptr(), Phone: req.Phone.ptr(),
			Name: req.Name.ptr(), BirthDate: req.BirthDate.ptr(), GuardianID: req.GuardianID.ptr()}
		sub, err := s.svc.Subjects.UpdateSubject(r.Context(), r.PathValue("id"), upd)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		setETag(w, sub.Version)
		respond(w, http.StatusOK, sub)
	}))
}

// handleSubjectDelete erases the subject on its request, as POST …/erasure does, and answers
// with the erasure report: what a legal hold or a statutory retention kept, and why.
func (s *Server) handleSubjectDelete() http.Handler {
	return s.conditional(s.handleSubjectErasure())
}
