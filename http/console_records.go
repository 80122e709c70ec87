package http

import (
	"net/http"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/web"
)

// Changing and deleting a subject's records from the subject's page. Both call the record
// service exactly as PATCH and DELETE /api/v1/records/{id} do, so that the same rules,
// roles, restrictions and audit apply; the subject in the address is only the page the
// record is shown on, and a record of another subject answers as a missing one.

func init() {
	addConsoleSection(func(s *Server) []route {
		write := tenant(skjold.ScopeWrite)
		return []route{
			{"POST /console/subjects/{id}/records/{record}/edit", write, s.handleConsoleRecordEdit()},
			{"POST /console/subjects/{id}/records/{record}/delete", write, s.handleConsoleRecordDelete()},
		}
	})
}

// recordFieldID is the form id of a record's field on the subject's page.
func recordFieldID(recordID, field string) string { return "r-" + recordID + "-" + field }

// recordDeleteID is the form id of a record's delete confirmation.
func recordDeleteID(recordID string) string { return "del-" + recordID }

// editFields returns the edit form of a record: the category's fields the caller sees
// (a withheld one is left out, so that the form neither shows nor changes it).
func editFields(c *skjold.Category, rv recordView) []formField {
	var out []formField
	for i, f := range c.Fields {
		if rv.Values[i].Withheld {
			continue
		}
		out = append(out, recordFormField(recordFieldID(rv.Record.ID, f.Name), f))
	}
	return out
}

// recordFormField is the input of field f, made from its name and type.
func recordFormField(id string, f skjold.Field) formField {
	return formField{ID: id, Name: f.Name, Input: recordInput(f.Type), Type: f.Type, Description: f.Description,
		Required: f.Required}
}

// inputValue returns a stored value as the form's input of type typ shows it.
func inputValue(typ, value string) string {
	if typ == skjold.TypeDateTime {
		if t, err := time.Parse(time.RFC3339, value); err == nil {
			return t.UTC().Format("2006-01-02T15:04")
		}
	}
	return value
}

// prefillRecords fills the edit forms with the records' values, where the posted form has
// none, and gives every record form field the page's view.
func prefillRecords(v *web.View, p *subjectPage) {
	for gi := range p.Records {
		g := &p.Records[gi]
		for i := range g.Fields {
			g.Fields[i].V = v
		}
		for ri := range g.Records {
			rv := &g.Records[ri]
			for i := range rv.Fields {
				f := &rv.Fields[i]
				f.V = v
				if _, set := v.Form[f.ID]; set {
					continue
				}
				for _, val := range rv.Values {
					if val.Name == f.Name {
						v.Form[f.ID] = inputValue(f.Type, val.Value)
					}
				}
			}
		}
	}
}

// withPurpose returns r with the caller stating purpose, once the purpose service accepts
// it as the API's ?purpose= is checked; an empty purpose leaves r as it is.
func (s *Server) withPurpose(r *http.Request, purpose string) (*http.Request, error) {
	if purpose == "" {
		return r, nil
	}
	if !skjold.ValidName(purpose) {
		return r, skjold.FieldError("purpose", "name", "purpose must be a lower-case name such as credit_check")
	}
	c := *skjold.CallerFromContext(r.Context())
	c.Purpose = purpose
	stated := r.WithContext(skjold.NewContextWithCaller(r.Context(), &c))
	if err := s.svc.Purposes.CheckStatedPurpose(stated.Context()); err != nil {
		return r, err
	}
	return stated, nil
}

// subjectRecord reads the record the address names, as the caller may see it; a record of
// another subject than the page's is missing here.
func (s *Server) subjectRecord(r *http.Request) (*skjold.Record, error) {
	rec, err := s.svc.Records.FindRecordByID(r.Context(), r.PathValue("record"))
	if err != nil {
		return nil, err
	}
	if rec.SubjectID != r.PathValue("id") {
		return nil, skjold.Errorf(skjold.ENOTFOUND, "record not found")
	}
	return rec, nil
}

// handleConsoleRecordEdit changes the record's fields the form holds, as PATCH
// /api/v1/records/{id} does: an emptied field is removed, a field the form leaves out (a
// withheld one) is not touched, and a refused value is named next to its field.
func (s *Server) handleConsoleRecordEdit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("subject.title")
		purpose := strings.TrimSpace(r.PostForm.Get("purpose"))
		r, err := s.withPurpose(r, purpose)
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		rec, err := s.subjectRecord(r)
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		cat, err := s.svc.Categories.FindCategory(r.Context(), rec.Category)
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		data := map[string]any{}
		for _, f := range cat.Fields {
			if !r.PostForm.Has(f.Name) {
				continue
			}
			raw := strings.TrimSpace(r.PostForm.Get(f.Name))
			v.Form[recordFieldID(rec.ID, f.Name)] = raw
			data[f.Name] = nil
			if raw != "" {
				data[f.Name] = formValue(f.Type, raw)
			}
		}
		if len(data) == 0 {
			v.FormError = v.T("subjects.err.record_nothing")
			s.showSubject(w, r, http.StatusBadRequest, v, purpose)
			return
		}
		if _, err := s.svc.Records.UpdateRecord(r.Context(), rec.ID, data); err != nil {
			if !s.fieldFailure(v, err, func(f string) string {
				if cat.Field(f) == nil {
					return ""
				}
				return recordFieldID(rec.ID, f)
			}) {
				s.consoleFail(w, r, consoleOf(r).id, err)
				return
			}
			s.showSubject(w, r, statusOf(err), v, purpose)
			return
		}
		http.Redirect(w, r, "/console/subjects/"+rec.SubjectID+"?m=record_saved", http.StatusSeeOther)
	})
}

// handleConsoleRecordDelete deletes the record, as DELETE /api/v1/records/{id} does, once
// the form's box confirms it.
func (s *Server) handleConsoleRecordDelete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("subject.title")
		rec, err := s.subjectRecord(r)
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		if r.PostForm.Get("confirm") != "yes" {
			v.Errors[recordDeleteID(rec.ID)] = v.T("subjects.err.record_confirm")
			s.showSubject(w, r, http.StatusBadRequest, v, "")
			return
		}
		if err := s.svc.Records.DeleteRecord(r.Context(), rec.ID); err != nil {
			if skjold.ErrorCode(err) != skjold.ECONFLICT {
				s.consoleFail(w, r, consoleOf(r).id, err)
				return
			}
			v.Errors[recordDeleteID(rec.ID)] = fieldMessage(v, err)
			s.showSubject(w, r, http.StatusConflict, v, "")
			return
		}
		http.Redirect(w, r, "/console/subjects/"+rec.SubjectID+"?m=record_deleted", http.StatusSeeOther)
	})
}
