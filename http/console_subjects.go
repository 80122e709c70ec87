package http

import (
	"net/http"
	"slices"
	"strings"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/web"
)

// The console's subject pages: searching by e-mail, phone or reference (the value posted,
// never in a URL), a subject's page with its profile, records, consents, holds and audit
// trail, stating a purpose to see purpose-bound fields, and creating, changing and erasing
// subjects. Every page calls the same services as the API's subject routes, so that a rule
// the API refuses is refused here the same way, and every read is audited as the API's is.

func init() {
	addConsoleSection(func(s *Server) []route {
		read, write := tenant(skjold.ScopeRead), tenant(skjold.ScopeWrite)
		return []route{
			{"GET /console/subjects", read, s.handleConsoleSubjects()},
			{"POST /console/subjects/search", read, s.handleConsoleSubjectSearch()},
			{"GET /console/subjects/new", write, s.handleConsoleSubjectNew()},
			{"POST /console/subjects/new", write, s.handleConsoleSubjectCreate()},
			{"GET /console/subjects/{id}", read, s.handleConsoleSubject()},
			{"POST /console/subjects/{id}/reveal", read, s.handleConsoleSubjectReveal()},
			{"POST /console/subjects/{id}/edit", write, s.handleConsoleSubjectEdit()},
			{"POST /console/subjects/{id}/records", write, s.handleConsoleRecordCreate()},
			{"POST /console/subjects/{id}/restriction", write, s.handleConsoleSubjectFlag(true)},
			{"POST /console/subjects/{id}/objection", write, s.handleConsoleSubjectFlag(false)},
			{"POST /console/subjects/{id}/erase", write, s.handleConsoleSubjectErase()},
		}
	}, navItem{20, "/console/subjects", "nav.subjects", tenant(skjold.ScopeRead)})
}

// searchKinds are what a subject is searched by, as the API's filter names them.
var searchKinds = []string{skjold.FieldEmail, skjold.FieldPhone, skjold.FieldRef}

// subjectSearch is the search page's data: the kinds to search by, and the results once
// the form was sent.
type subjectSearch struct {
	Kinds    []string
	Searched bool
	Results  []*skjold.Subject
	CanWrite bool
}

func (s *Server) handleConsoleSubjects() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("subjects.title")
		v.Form["by"] = skjold.FieldEmail
		v.Data = &subjectSearch{Kinds: searchKinds, CanWrite: can(r, skjold.ScopeWrite)}
		s.render(w, r, http.StatusOK, "subjects", v)
	})
}

// handleConsoleSubjectSearch finds subjects by the posted value: the answer is this POST's
// page, so that no address holds the value and no history or log keeps it.
func (s *Server) handleConsoleSubjectSearch() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("subjects.title")
		by, q := r.PostForm.Get("by"), strings.TrimSpace(r.PostForm.Get("q"))
		if !slices.Contains(searchKinds, by) {
			by = skjold.FieldEmail
		}
		v.Form["by"], v.Form["q"] = by, q
		data := &subjectSearch{Kinds: searchKinds, CanWrite: can(r, skjold.ScopeWrite)}
		v.Data = data
		if q == "" {
			v.Errors["q"] = v.T("err.required")
			s.render(w, r, http.StatusBadRequest, "subjects", v)
			return
		}
		f := skjold.SubjectFilter{}
		switch by {
		case skjold.FieldEmail:
			f.Email = q
		case skjold.FieldPhone:
			f.Phone = q
		default:
			f.Ref = q
		}
		found, err := s.svc.Subjects.FindSubjects(r.Context(), f)
		if err != nil {
			if skjold.ErrorCode(err) != skjold.EINVALID {
				s.consoleFail(w, r, consoleOf(r).id, err)
				return
			}
			v.Errors["q"] = v.T("subjects.err.search_" + by)
			s.render(w, r, http.StatusBadRequest, "subjects", v)
			return
		}
		data.Searched, data.Results = true, found
		s.render(w, r, http.StatusOK, "subjects", v)
	})
}

// can reports whether the request's caller holds a tenant scope.
func can(r *http.Request, scope string) bool {
	return tenant(scope).allows(skjold.CallerFromContext(r.Context())) == nil
}

// profileFields are the subject's profile fields in the order the pages show them.
var profileFields = []string{skjold.FieldName, skjold.FieldEmail, skjold.FieldPhone, skjold.FieldRef, skjold.FieldBirthDate}

// profileInput returns the input type of a profile field.
func profileInput(name string) string {
	switch name {
	case skjold.FieldEmail:
		return "email"
	case skjold.FieldPhone:
		return "tel"
	case skjold.FieldBirthDate:
		return "date"
	}
	return "text"
}

// subjectForm is the new-subject page's data.
type subjectForm struct {
	Fields        []profileRow
	Relationships []string
}

func (s *Server) newSubjectForm() *subjectForm {
	f := &subjectForm{Relationships: []string{skjold.RelationshipActive, skjold.RelationshipProspect}}
	for _, name := range profileFields {
		f.Fields = append(f.Fields, profileRow{Name: name, Input: profileInput(name)})
	}
	return f
}

func (s *Server) handleConsoleSubjectNew() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("subjects.new")
		v.Data = s.newSubjectForm()
		s.render(w, r, http.StatusOK, "subject_new", v)
	})
}

func (s *Server) handleConsoleSubjectCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("subjects.new")
		sub := &skjold.Subject{Relationship: r.PostForm.Get("relationship")}
		for _, name := range profileFields {
			val := strings.TrimSpace(r.PostForm.Get(name))
			v.Form[name] = val
			sub.SetValue(name, val)
		}
		v.Form["relationship"] = sub.Relationship
		if err := s.svc.Subjects.CreateSubject(r.Context(), sub); err != nil {
			if !s.fieldFailure(v, err, func(f string) string { return f }) {
				s.consoleFail(w, r, consoleOf(r).id, err)
				return
			}
			v.Data = s.newSubjectForm()
			s.render(w, r, statusOf(err), "subject_new", v)
			return
		}
		http.Redirect(w, r, "/console/subjects/"+sub.ID+"?m=subject_created", http.StatusSeeOther)
	})
}

// fieldFailure puts a refused input's message next to its field (id maps the error's field
// name to the form field's id), or at the top of the form for a rule of no one field, and
// reports true; it reports false for failures that are no fault of the input (missing,
// forbidden, internal), which get the error page.
func (s *Server) fieldFailure(v *web.View, err error, id func(field string) string) bool {
	switch skjold.ErrorCode(err) {
	case skjold.EINVALID, skjold.ECONFLICT, skjold.ETOOLARGE:
	default:
		return false
	}
	msg := fieldMessage(v, err)
	if field, _ := fieldOf(err); field != "" && id(field) != "" {
		v.Errors[id(field)] = msg
	} else {
		v.FormError = msg
	}
	return true
}

// fieldMessage returns the reader's message for a refused value: the subject pages' own
// message for the rule where there is one, else the console's.
func fieldMessage(v *web.View, err error) string {
	if _, rule := fieldOf(err); rule != "" && v.Cat.Has("subjects.err."+rule) {
		return v.T("subjects.err." + rule)
	}
	if skjold.ErrorCode(err) == skjold.ECONFLICT {
		return v.T("subjects.err.conflict")
	}
	return message(v.Cat, err)
}
