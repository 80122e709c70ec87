package http

import (
	"net/http"
	"strconv"
	"time"

	"github.com/skjold-project/skjold"
)

// handleSubjectErasure answers POST /api/v1/subjects/{id}/erasure, with an empty body or {}:
// the subject is erased now, outside a formal request, and the answer tells what was erased
// and what was kept, why and until when.
func (s *Server) handleSubjectErasure() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.ErasureReport, error) {
		return s.svc.Retention.EraseSubject(r.Context(), r.PathValue("id"), skjold.ErasedOnRequest)
	})
}

// handleHoldCreate answers POST /api/v1/holds: a legal hold on the tenant, or on one subject,
// of every category or one.
func (s *Server) handleHoldCreate() http.Handler {
	type request struct {
		SubjectID string `json:"subject_id"`
		Category  string `json:"category"`
		Reason    string `json:"reason"`
		Until     string `json:"until"` // RFC 3339; "" holds until released
	}
	return handle(s, http.StatusCreated, func(r *http.Request, req *request) (*skjold.Hold, error) {
		h := &skjold.Hold{SubjectID: req.SubjectID, Category: req.Category, Reason: req.Reason}
		if req.Until != "" {
			until, err := time.Parse(time.RFC3339, req.Until)
			if err != nil {
				return nil, skjold.FieldError("until", "format", "until must be an RFC 3339 time such as 2030-12-31T23:59:59Z")
			}
			h.Until = &until
		}
		if err := s.svc.Retention.PlaceHold(r.Context(), h); err != nil {
			return nil, err
		}
		return h, nil
	})
}

// handleHoldList answers GET /api/v1/holds: the tenant's holds, newest first, in force or
// released.
func (s *Server) handleHoldList() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*listBody[*skjold.Hold], error) {
		holds, err := s.svc.Retention.FindHolds(r.Context())
		if err != nil {
			return nil, err
		}
		return &listBody[*skjold.Hold]{Items: holds}, nil
	})
}

// handleHoldRelease answers DELETE /api/v1/holds/{id}: the hold ends now.
func (s *Server) handleHoldRelease() http.Handler {
	return handle(s, http.StatusNoContent, func(r *http.Request, _ *none) (any, error) {
		return nil, s.svc.Retention.ReleaseHold(r.Context(), r.PathValue("id"))
	})
}

// handleErasureJournal answers GET /api/v1/erasure-journal?after=&limit=: the operator's
// view of every erasure, oldest first, from after the sequence number after.
func (s *Server) handleErasureJournal() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*listBody[*skjold.JournalEntry], error) {
		q := r.URL.Query()
		var after int64
		limit := skjold.DefaultPageLimit
		var err error
		if v := q.Get("after"); v != "" {
			if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
				return nil, skjold.FieldError("after", "type", "after must be a sequence number, 0 or more")
			}
		}
		if v := q.Get("limit"); v != "" {
			if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > skjold.MaxPageLimit {
				return nil, skjold.FieldError("limit", "range", "limit must be a whole number from 1 to %d", skjold.MaxPageLimit)
			}
		}
		entries, err := s.svc.Retention.FindJournal(r.Context(), after, limit)
		if err != nil {
			return nil, err
		}
		body := &listBody[*skjold.JournalEntry]{Items: entries}
		if len(entries) == limit {
			body.Next = strconv.FormatInt(entries[len(entries)-1].Seq, 10)
		}
		return body, nil
	})
}
