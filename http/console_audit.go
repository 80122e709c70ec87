package http

import (
	"cmp"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

// The console's audit page: the audit events of the caller's tenant (every event, for
// operators), filtered by actor, subject, action and time range, newest first, read through
// the AuditService as GET /api/v1/audit reads them; and, for those who may verify it, the
// result of verifying the chain. The filter form is posted like every other form of the
// console; the same filters in the query of a GET (ids and names only, never a personal
// value) let other pages link to a filtered list.

func init() {
	addConsoleSection(func(s *Server) []route {
		return []route{
			{"GET /console/audit", either(skjold.ScopeAudit, skjold.ScopeOperatorRead), s.handleConsoleAudit()},
			{"POST /console/audit", either(skjold.ScopeAudit, skjold.ScopeOperatorRead), s.handleConsoleAudit()},
		}
	}, navItem{60, "/console/audit", "nav.audit", either(skjold.ScopeAudit, skjold.ScopeOperatorRead)})
}

// auditPage is the audit page's data.
type auditPage struct {
	Audit  []*skjold.AuditEvent
	Actors map[string]string
	People []actorChoice // the staff to filter by, when the caller may list them
	Chain  *chainResult  // nil: the caller may not verify the chain
}

type actorChoice struct{ Actor, Name string }

// chainResult is the outcome of verifying the audit chain, as GET /api/v1/audit/verify
// reports it.
type chainResult struct {
	OK       bool
	Length   int64
	Head     string
	BrokenAt int64
	Reason   string
}

// auditPageLimit is how many events the page shows.
const auditPageLimit = 100

func (s *Server) handleConsoleAudit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("audit.title")
		q := r.URL.Query()
		if r.Method == http.MethodPost {
			q = r.PostForm
		}
		f := skjold.AuditFilter{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")),
			SubjectID: strings.TrimSpace(q.Get("subject")), Newest: true, Limit: auditPageLimit}
		for _, k := range []string{"actor", "action", "subject", "since", "until"} {
			v.Form[k] = strings.TrimSpace(q.Get(k))
		}
		var err error
		if f.Since, err = dateParam(v.Form["since"], 0); err != nil {
			v.Errors["since"] = v.T("audit.err_date")
		}
		if f.Until, err = dateParam(v.Form["until"], 1); err != nil {
			v.Errors["until"] = v.T("audit.err_date")
		}
		p := &auditPage{Actors: s.actorNames(r)}
		for actor, name := range p.Actors {
			p.People = append(p.People, actorChoice{actor, name})
		}
		slices.SortFunc(p.People, func(a, b actorChoice) int { return cmp.Compare(a.Name, b.Name) })
		if len(v.Errors) == 0 {
			if err := f.Normalize(); err != nil {
				field, _ := fieldOf(err)
				if field == "subject_id" {
					field = "subject"
				}
				v.Errors[field] = v.T("audit.err_" + field)
			}
		}
		status := http.StatusOK
		if len(v.Errors) > 0 {
			status = http.StatusBadRequest
		} else if p.Audit, err = s.svc.Audit.FindAuditEvents(r.Context(), f); err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		if operator(skjold.ScopeOperatorRead).allows(skjold.CallerFromContext(r.Context())) == nil {
			if p.Chain, err = s.verifyChain(r); err != nil {
				s.consoleFail(w, r, consoleOf(r).id, err)
				return
			}
		}
		v.Data = p
		s.render(w, r, status, "audit", v)
	})
}

// dateParam parses a YYYY-MM-DD date of the filter form as the start of that day in UTC,
// plus days; "" is no date.
func dateParam(s string, days int) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.AddDate(0, 0, days), nil
}

// verifyChain verifies the audit chain as GET /api/v1/audit/verify does.
func (s *Server) verifyChain(r *http.Request) (*chainResult, error) {
	rep, err := s.svc.Audit.VerifyAuditChain(r.Context())
	var ce *skjold.ChainError
	switch {
	case errors.As(err, &ce):
		return &chainResult{Length: rep.Length, BrokenAt: ce.Seq, Reason: ce.Reason}, nil
	case err != nil:
		return nil, err
	}
	return &chainResult{OK: true, Length: rep.Length, Head: hex.EncodeToString(rep.Head)}, nil
}

// actorNames maps the actors of the caller's staff ("user:<id>") to their names, when the
// caller may list the staff; otherwise the pages show the bare actor.
func (s *Server) actorNames(r *http.Request) map[string]string {
	c := skjold.CallerFromContext(r.Context())
	if either(skjold.ScopeAdmin, skjold.ScopeOperatorStaff).allows(c) != nil {
		return nil
	}
	users, err := s.svc.Auth.FindUsers(r.Context(), skjold.Page{Limit: skjold.MaxPageLimit})
	if err != nil {
		return nil
	}
	names := make(map[string]string, len(users))
	for _, u := range users {
		names["user:"+u.ID] = u.Name
	}
	return names
}
