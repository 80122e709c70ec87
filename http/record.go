package http

import (
	"net/http"
	"net/url"

	"github.com/skjold-project/skjold"
)

func (s *Server) handleRecordCreate() http.Handler {
	type request struct {
		Category string         `json:"category"`
		Data     map[string]any `json:"data"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := decode(r, &req); err != nil {
			fail(w, r, s.log, err)
			return
		}
		if req.Category == "" {
			fail(w, r, s.log, skjold.FieldError("category", "required", "category is required"))
			return
		}
		rec := &skjold.Record{SubjectID: r.PathValue("id"), Category: req.Category, Data: req.Data}
		if err := s.svc.Records.CreateRecord(r.Context(), rec); err != nil {
			fail(w, r, s.log, err)
			return
		}
		w.Header().Set("Location", "/api/v1/records/"+url.PathEscape(rec.ID))
		setETag(w, rec.Version)
		respond(w, http.StatusCreated, rec)
	})
}

func (s *Server) handleRecordList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, err := pageOf(r)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		f := skjold.RecordFilter{SubjectID: r.PathValue("id"), Category: r.URL.Query().Get("category"), Page: page}
		recs, err := s.svc.Records.FindRecords(r.Context(), f)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		respond(w, http.StatusOK, list(recs, f.Page, func(r *skjold.Record) string { return r.ID }))
	})
}

func (s *Server) handleRecordGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, err := s.svc.Records.FindRecordByID(r.Context(), r.PathValue("id"))
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		setETag(w, rec.Version)
		respond(w, http.StatusOK, rec)
	})
}

func (s *Server) handleRecordUpdate() http.Handler {
	type request struct {
		Data map[string]any `json:"data"`
	}
	return s.conditional(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := decode(r, &req); err != nil {
			fail(w, r, s.log, err)
			return
		}
		if len(req.Data) == 0 {
			fail(w, r, s.log, skjold.FieldError("data", "required", "data must name at least one field to change"))
			return
		}
		rec, err := s.svc.Records.UpdateRecord(r.Context(), r.PathValue("id"), req.Data)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		setETag(w, rec.Version)
		respond(w, http.StatusOK, rec)
	}))
}

func (s *Server) handleRecordDelete() http.Handler {
	return s.conditional(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.svc.Records.DeleteRecord(r.Context(), r.PathValue("id")); err != nil {
			fail(w, r, s.log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
}
