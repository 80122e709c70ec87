package http

import (
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/skjold-project/skjold"
)

func (s *Server) handleAuditList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := skjold.AuditFilter{SubjectID: q.Get("subject_id"), Actor: q.Get("actor"), Action: q.Get("action")}
		var err error
		for i, t := range []*time.Time{&f.Since, &f.Until} {
			name := [...]string{"since", "until"}[i]
			if v := q.Get(name); v != "" {
				if *t, err = time.Parse(time.RFC3339Nano, v); err != nil {
					fail(w, r, s.log, skjold.FieldError(name, "datetime", "%s must be a date and time in RFC 3339 form", name))
					return
				}
			}
		}
		if v := q.Get("after"); v != "" {
			if f.After, err = strconv.ParseInt(v, 10, 64); err != nil {
				fail(w, r, s.log, skjold.FieldError("after", "type", "after must be a sequence number"))
				return
			}
		}
		if v := q.Get("limit"); v != "" {
			if f.Limit, err = strconv.Atoi(v); err != nil {
				fail(w, r, s.log, skjold.FieldError("limit", "type", "limit must be a whole number"))
				return
			}
		}
		if err := f.Normalize(); err != nil { // here too, so that a full page gets its cursor
			fail(w, r, s.log, err)
			return
		}
		events, err := s.svc.Audit.FindAuditEvents(r.Context(), f)
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		body := listBody[*skjold.AuditEvent]{Items: events}
		if len(events) > 0 && len(events) == f.Limit {
			body.Next = strconv.FormatInt(events[len(events)-1].Seq, 10)
		}
		respond(w, http.StatusOK, body)
	})
}

func (s *Server) handleAuditVerify() http.Handler {
	type response struct {
		OK          bool   `json:"ok"`
		Length      int64  `json:"length"`
		Head        string `json:"head,omitempty"`
		BrokenAt    int64  `json:"broken_at,omitempty"`
		Reason      string `json:"reason,omitempty"`
		Checkpoints int    `json:"checkpoints,omitempty"`
		Superseded  int    `json:"superseded,omitempty"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep, err := s.svc.Audit.VerifyAuditChain(r.Context())
		var ce *skjold.ChainError
		switch {
		case errors.As(err, &ce):
			respond(w, http.StatusOK, response{Length: rep.Length, BrokenAt: ce.Seq, Reason: ce.Reason})
		case err != nil:
			fail(w, r, s.log, err)
		default:
			respond(w, http.StatusOK, response{OK: true, Length: rep.Length, Head: hex.EncodeToString(rep.Head),
				Checkpoints: rep.Checkpoints, Superseded: rep.Superseded})
		}
	})
}
