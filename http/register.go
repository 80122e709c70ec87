package http

import (
	"net/http"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/export"
)

// handleRegister answers the register of authorised persons as JSON, or as CSV (for a
// spreadsheet or an auditor) with ?format=csv.
func (s *Server) handleRegister() http.Handler {
	type response struct {
		Items []*skjold.RegisterEntry `json:"items"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := r.URL.Query().Get("format")
		if format != "" && format != "json" && format != "csv" {
			fail(w, r, s.log, skjold.FieldError("format", "format", "format must be json or csv"))
			return
		}
		entries, err := s.svc.Register.Register(r.Context())
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		if entries == nil {
			entries = []*skjold.RegisterEntry{}
		}
		if format != "csv" {
			respond(w, http.StatusOK, response{Items: entries})
			return
		}
		writeRegisterCSV(w, entries)
	})
}

// writeRegisterCSV writes the register as a CSV download: the API's ?format=csv and the
// console's download.
func writeRegisterCSV(w http.ResponseWriter, entries []*skjold.RegisterEntry) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="register.csv"`)
	cw := export.NewCSVWriter(w)
	cw.Write([]string{"user_id", "name", "email", "role", "scopes", "via", "suspended", "access_until",
		"training_at", "agreement_at", "training_due", "created_at"})
	for _, e := range entries {
		cw.Write([]string{e.UserID, e.Name, e.Email, e.Role, strings.Join(e.Scopes, " "), e.Via,
			boolText(e.Suspended), timeText(e.AccessUntil), timeText(e.TrainingAt), timeText(e.AgreementAt),
			boolText(e.TrainingDue), e.CreatedAt.Format(time.RFC3339)})
	}
	cw.Flush() // a failed write means the client is gone: nothing left to tell it
}

func boolText(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func timeText(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
