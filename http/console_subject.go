package http

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/web"
)

// One subject's page in the console, and its form actions (console_subjects.go declares
// the routes).

// subjectPage is a subject's page: what the caller may see of the subject, read as the API
// reads it (and audited the same way), with the purpose the caller stated, if any.
type subjectPage struct {
	Subject   *skjold.Subject
	Purpose   string   // the purpose stated for this page
	Purposes  []string // the purposes the caller may state
	Withheld  bool     // some field is left out for want of a purpose
	Profile   []profileRow
	Records   []categoryRecords
	Consents  []*skjold.Consent
	Holds     []*skjold.Hold
	Audit     []*skjold.AuditEvent
	Actors    map[string]string // actor → the person's name, where the caller may list staff
	CanAudit  bool
	CanWrite  bool
	Relations []string
}

// profileRow is one profile field: its value, or that it is withheld.
type profileRow struct {
	Name, Input, Value string
	Withheld           bool
	Purposes           []string
}

// categoryRecords are a subject's records of one category, and the form that adds one.
type categoryRecords struct {
	Category *skjold.Category
	Records  []recordView
	Fields   []formField
}

// recordView is one record's values in the category's field order.
type recordView struct {
	Record *skjold.Record
	Values []recordValue
	Fields []formField // the edit form's inputs
}

type recordValue struct {
	Name, Value string
	Withheld    bool
}

// formField is one input of a record form, made from the category field's name and type.
type formField struct {
	ID, Name, Input, Type, Description string
	Required                           bool
	V                                  *web.View // the page's view, for the input's value and error
}

// recordInput returns the HTML input type of a category field's type.
func recordInput(typ string) string {
	switch typ {
	case skjold.TypeDate:
		return "date"
	case skjold.TypeDateTime:
		return "datetime-local"
	case skjold.TypeNumber, skjold.TypeInteger:
		return "number"
	case skjold.TypeEmail:
		return "email"
	case skjold.TypePhone:
		return "tel"
	case skjold.TypeBoolean:
		return "select"
	}
	return "text"
}

func (s *Server) handleConsoleSubject() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.showSubject(w, r, http.StatusOK, consoleOf(r).newView("subject.title"), "")
	})
}

// handleConsoleSubjectReveal shows the subject's page with the purpose the form states: the
// purpose is checked as the API checks ?purpose=, and the reads under it are audited with it.
func (s *Server) handleConsoleSubjectReveal() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("subject.title")
		purpose := strings.TrimSpace(r.PostForm.Get("purpose"))
		v.Form["purpose"] = purpose
		var err error = skjold.FieldError("purpose", "required", "state a purpose")
		if purpose != "" {
			r, err = s.withPurpose(r, purpose)
		}
		if err != nil {
			v.Errors["purpose"] = fieldMessage(v, err)
			if skjold.ErrorCode(err) == skjold.EFORBIDDEN {
				v.Errors["purpose"] = v.T("subjects.err.purpose_forbidden")
			}
			s.showSubject(w, r, statusOf(err), v, "")
			return
		}
		s.showSubject(w, r, http.StatusOK, v, purpose)
	})
}

// showSubject reads the subject and everything of it the caller may see, and renders the
// page; a subject that is missing (or another tenant's) gets the error page.
func (s *Server) showSubject(w http.ResponseWriter, r *http.Request, status int, v *web.View, purpose string) {
	p, err := s.loadSubject(r, r.PathValue("id"), purpose)
	if skjold.ErrorCode(err) == skjold.EFORBIDDEN {
		// The route's permission passed: the subject's restriction or objection refused
		// this read. The page says so, and offers the purpose that may read it.
		s.showBlockedSubject(w, r, v, purpose)
		return
	}
	if err != nil {
		s.consoleFail(w, r, consoleOf(r).id, err)
		return
	}
	for _, row := range p.Profile {
		if _, set := v.Form["p-"+row.Name]; !set && !row.Withheld {
			v.Form["p-"+row.Name] = row.Value
		}
	}
	prefillRecords(v, p)
	v.Data = p
	s.render(w, r, status, "subject", v)
}

// blockedSubject is the page of a subject whose restriction or objection refused the read.
type blockedSubject struct {
	ID       string
	Purpose  string
	Purposes []string
	CanWrite bool
}

func (s *Server) showBlockedSubject(w http.ResponseWriter, r *http.Request, v *web.View, purpose string) {
	purposes, err := s.statablePurposes(r)
	if err != nil {
		s.consoleFail(w, r, consoleOf(r).id, err)
		return
	}
	v.Title = "subject_restricted.title"
	v.Data = &blockedSubject{ID: r.PathValue("id"), Purpose: purpose, Purposes: purposes, CanWrite: can(r, skjold.ScopeWrite)}
	s.render(w, r, http.StatusOK, "subject_restricted", v)
}

// loadSubject reads one subject's page through the services.
func (s *Server) loadSubject(r *http.Request, id, purpose string) (*subjectPage, error) {
	ctx := r.Context()
	sub, err := s.svc.Subjects.FindSubjectByID(ctx, id)
	if err != nil {
		return nil, err
	}
	p := &subjectPage{Subject: sub, Purpose: purpose, CanAudit: can(r, skjold.ScopeAudit), CanWrite: can(r, skjold.ScopeWrite),
		Relations: []string{skjold.RelationshipProspect, skjold.RelationshipActive, skjold.RelationshipEnded}}
	cats, err := s.svc.Categories.FindCategories(ctx)
	if err != nil {
		return nil, err
	}
	for _, name := range profileFields {
		row := profileRow{Name: name, Input: profileInput(name), Value: sub.Values()[name], Withheld: slices.Contains(sub.Withheld, name)}
		for _, c := range cats {
			if f := c.Field(name); c.Name == skjold.SubjectCategory && f != nil {
				row.Purposes = f.Purposes
			}
		}
		p.Withheld = p.Withheld || row.Withheld
		p.Profile = append(p.Profile, row)
	}
	if err := s.loadRecords(r, p, cats); err != nil {
		return nil, err
	}
	if p.Consents, err = s.svc.Purposes.FindConsents(ctx, id); err != nil {
		return nil, err
	}
	holds, err := s.svc.Retention.FindHolds(ctx)
	if err != nil {
		return nil, err
	}
	for _, h := range holds {
		if h.SubjectID == id || h.SubjectID == "" {
			p.Holds = append(p.Holds, h)
		}
	}
	if p.Purposes, err = s.statablePurposes(r); err != nil {
		return nil, err
	}
	if p.CanAudit {
		p.Actors = s.actorNames(r)
		p.Audit, err = s.svc.Audit.FindAuditEvents(ctx, skjold.AuditFilter{SubjectID: id, Newest: true, Limit: 50})
	}
	return p, err
}

// loadRecords reads the subject's records, grouped by category in the categories' order,
// with a form for each category the caller may add to.
func (s *Server) loadRecords(r *http.Request, p *subjectPage, cats []*skjold.Category) error {
	recs, err := s.svc.Records.FindRecords(r.Context(), skjold.RecordFilter{SubjectID: p.Subject.ID,
		Page: skjold.Page{Limit: skjold.MaxPageLimit}})
	if err != nil {
		return err
	}
	for _, c := range cats {
		if c.Name == skjold.SubjectCategory {
			continue
		}
		group := categoryRecords{Category: c}
		for _, rec := range recs {
			if rec.Category != c.Name {
				continue
			}
			rv := recordView{Record: rec}
			for _, f := range c.Fields {
				val := recordValue{Name: f.Name, Withheld: slices.Contains(rec.Withheld, f.Name)}
				if x, ok := rec.Data[f.Name]; ok && x != nil {
					val.Value = fmt.Sprint(x)
				}
				p.Withheld = p.Withheld || val.Withheld
				rv.Values = append(rv.Values, val)
			}
			rv.Fields = editFields(c, rv)
			group.Records = append(group.Records, rv)
		}
		for _, f := range c.Fields {
			group.Fields = append(group.Fields, recordFormField("rec-"+c.Name+"-"+f.Name, f))
		}
		p.Records = append(p.Records, group)
	}
	return nil
}

// statablePurposes returns the purposes the caller may state: its profile's or token's
// list, or else every purpose of the tenant's register.
func (s *Server) statablePurposes(r *http.Request) ([]string, error) {
	if c := skjold.CallerFromContext(r.Context()); len(c.Purposes) > 0 {
		return slices.Sorted(slices.Values(c.Purposes)), nil
	}
	reg, err := s.svc.Purposes.FindPurposes(r.Context())
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(reg))
	for _, p := range reg {
		names = append(names, p.Name)
	}
	return names, nil
}

// handleConsoleSubjectEdit changes the profile values the form holds; a field the page left
// out (a withheld one) is not touched.
func (s *Server) handleConsoleSubjectEdit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("subject.title")
		var upd skjold.SubjectUpdate
		ptrs := map[string]**string{skjold.FieldRef: &upd.Ref, skjold.FieldEmail: &upd.Email, skjold.FieldPhone: &upd.Phone,
			skjold.FieldName: &upd.Name, skjold.FieldBirthDate: &upd.BirthDate}
		for _, name := range profileFields {
			if !r.PostForm.Has(name) {
				continue
			}
			val := strings.TrimSpace(r.PostForm.Get(name))
			v.Form["p-"+name] = val
			*ptrs[name] = &val
		}
		_, err := s.svc.Subjects.UpdateSubject(r.Context(), r.PathValue("id"), upd)
		if err == nil {
			http.Redirect(w, r, "/console/subjects/"+r.PathValue("id")+"?m=subject_saved", http.StatusSeeOther)
			return
		}
		if !s.fieldFailure(v, err, func(f string) string { return "p-" + f }) {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		s.showSubject(w, r, statusOf(err), v, "")
	})
}

// handleConsoleRecordCreate adds a record of the posted category, its values converted from
// the form by the field's type and checked by the record service as the API's are.
func (s *Server) handleConsoleRecordCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("subject.title")
		id, name := r.PathValue("id"), r.PostForm.Get("category")
		cat, err := s.svc.Categories.FindCategory(r.Context(), name)
		if err != nil || name == skjold.SubjectCategory {
			v.FormError = v.T("subjects.err.category")
			s.showSubject(w, r, http.StatusBadRequest, v, "")
			return
		}
		data := map[string]any{}
		for _, f := range cat.Fields {
			raw := strings.TrimSpace(r.PostForm.Get(f.Name))
			v.Form["rec-"+cat.Name+"-"+f.Name] = raw
			if raw != "" {
				data[f.Name] = formValue(f.Type, raw)
			}
		}
		rec := &skjold.Record{SubjectID: id, Category: cat.Name, Data: data}
		if err := s.svc.Records.CreateRecord(r.Context(), rec); err != nil {
			if !s.fieldFailure(v, err, func(f string) string {
				if cat.Field(f) == nil {
					return ""
				}
				return "rec-" + cat.Name + "-" + f
			}) {
				s.consoleFail(w, r, consoleOf(r).id, err)
				return
			}
			s.showSubject(w, r, statusOf(err), v, "")
			return
		}
		http.Redirect(w, r, "/console/subjects/"+id+"?m=record_created", http.StatusSeeOther)
	})
}

// formValue turns a form's text into the JSON value the API would receive for a field of
// type typ; whether it is valid is the record service's to say.
func formValue(typ, raw string) any {
	switch typ {
	case skjold.TypeNumber, skjold.TypeInteger:
		return json.Number(raw)
	case skjold.TypeBoolean:
		switch raw {
		case "true":
			return true
		case "false":
			return false
		}
	case skjold.TypeDateTime: // the browser's datetime-local has no zone: the console works in UTC
		if t, err := time.Parse("2006-01-02T15:04", raw); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return raw
}

// handleConsoleSubjectFlag records or lifts a restriction (restriction true) or an
// objection, as the form's "on" field says.
func (s *Server) handleConsoleSubjectFlag(restriction bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, on := r.PathValue("id"), r.PostForm.Get("on") == "true"
		var err error
		if restriction {
			err = s.svc.Purposes.SetRestriction(r.Context(), id, on)
		} else {
			err = s.svc.Purposes.SetObjection(r.Context(), id, on)
		}
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		http.Redirect(w, r, "/console/subjects/"+id+"?m=subject_saved", http.StatusSeeOther)
	})
}

// handleConsoleSubjectErase erases the subject, as DELETE /api/v1/subjects/{id} does, once
// the form's box confirms it, and shows the erasure report.
func (s *Server) handleConsoleSubjectErase() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if r.PostForm.Get("confirm") != "yes" {
			v := consoleOf(r).newView("subject.title")
			v.Errors["confirm"] = v.T("subjects.err.confirm")
			s.showSubject(w, r, http.StatusBadRequest, v, "")
			return
		}
		rep, err := s.svc.Retention.EraseSubject(r.Context(), id, skjold.ErasedOnRequest)
		if err != nil {
			if skjold.ErrorCode(err) == skjold.ECONFLICT {
				v := consoleOf(r).newView("subject.title")
				v.Errors["confirm"] = v.T("subjects.err.erase_conflict")
				s.showSubject(w, r, http.StatusConflict, v, "")
				return
			}
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		v := consoleOf(r).newView("subjects.erased")
		v.Data = rep
		s.render(w, r, http.StatusOK, "subject_erased", v)
	})
}
