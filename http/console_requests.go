package http

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/web"
)

// The console's requests section [C1–C9]: the inbox with its filters, opening a request
// for a person found by e-mail, phone or reference (posted, so that the value never
// appears in a URL), and a request's page with its verification, extension, refusal and
// completion. Every action calls the RequestService as the API's request routes do.

func init() {
	addConsoleSection(func(s *Server) []route {
		const read, write = skjold.ScopeRead, skjold.ScopeWrite
		return []route{
			{"GET /console/requests", tenant(read), s.handleConsoleRequests()},
			{"GET /console/requests/new", tenant(write), s.handleConsoleRequestNew()},
			{"POST /console/requests", tenant(write), s.handleConsoleRequestOpen()},
			{"GET /console/requests/{id}", tenant(read), s.handleConsoleRequest()},
			{"POST /console/requests/{id}/verify", tenant(write), s.handleConsoleRequestVerify()},
			{"POST /console/requests/{id}/resend", tenant(write), s.handleConsoleRequestResend()},
			{"POST /console/requests/{id}/extend", tenant(write), s.handleConsoleRequestExtend()},
			{"POST /console/requests/{id}/refuse", tenant(write), s.handleConsoleRequestRefuse()},
			{"POST /console/requests/{id}/complete", tenant(write), s.handleConsoleRequestComplete()},
		}
	}, navItem{30, "/console/requests", "nav.requests", tenant(skjold.ScopeRead)})
}

// requestsPage is what the inbox shows: the requests of one page under the filters, and
// the link to the next page.
type requestsPage struct {
	Items    []*skjold.Request
	Types    []string
	Statuses []string
	Filter   skjold.RequestFilter
	Next     string // the next page's URL, "" on the last
	CanOpen  bool
}

// requestStatuses are the statuses the inbox filters by, in the order a request goes.
var requestStatuses = []string{skjold.StatusAwaitingVerification, skjold.StatusReceived, skjold.StatusInProgress,
	skjold.StatusAwaitingApproval, skjold.StatusExtended, skjold.StatusCompleted, skjold.StatusRefused}

func (s *Server) handleConsoleRequests() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr := consoleOf(r)
		v := cr.newView("requests.title")
		q := r.URL.Query()
		f := skjold.RequestFilter{Type: q.Get("type"), Status: q.Get("status"), State: q.Get("state"),
			Overdue: q.Get("overdue") == "1", Page: skjold.Page{After: q.Get("after"), Limit: skjold.DefaultPageLimit}}
		if !q.Has("state") && !q.Has("type") && !q.Has("status") && !q.Has("overdue") {
			f.State = skjold.RequestOpen // the inbox opens on the work still to do
		}
		for k, val := range map[string]string{"type": f.Type, "status": f.Status, "state": f.State} {
			v.Form[k] = val
		}
		page := &requestsPage{Types: skjold.RequestTypes, Statuses: requestStatuses, Filter: f,
			CanOpen: skjold.CallerFromContext(r.Context()).Can(skjold.ScopeWrite)}
		v.Data = page
		items, err := s.svc.Requests.FindRequests(r.Context(), f)
		if err != nil {
			if field, _ := fieldOf(err); field == "" || skjold.ErrorCode(err) != skjold.EINVALID {
				s.consoleFail(w, r, cr.id, err)
				return
			}
			v.FormError = v.T("requests.bad_filter")
			s.render(w, r, http.StatusBadRequest, "requests", v)
			return
		}
		page.Items = items
		if len(items) == f.Limit {
			next := url.Values{"type": {f.Type}, "status": {f.Status}, "state": {f.State}, "after": {items[len(items)-1].ID}}
			if f.Overdue {
				next.Set("overdue", "1")
			}
			page.Next = "/console/requests?" + next.Encode()
		}
		s.render(w, r, http.StatusOK, "requests", v)
	})
}

// requestNewData is what the form to open a request offers: the types, and the purposes a
// consent withdrawal may name.
type requestNewData struct {
	Types    []string
	Purposes []string
}

// requestNewData returns the form's choices; without the purpose register the purpose is
// typed in.
func (s *Server) requestNewData(r *http.Request) *requestNewData {
	d := &requestNewData{Types: skjold.RequestTypes}
	if s.svc.Purposes == nil {
		return d
	}
	if ps, err := s.svc.Purposes.FindPurposes(r.Context()); err == nil {
		for _, p := range ps {
			d.Purposes = append(d.Purposes, p.Name)
		}
	}
	return d
}

func (s *Server) handleConsoleRequestNew() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("request_new.title")
		v.Data = s.requestNewData(r)
		s.render(w, r, http.StatusOK, "request_new", v)
	})
}

// handleConsoleRequestOpen opens a request for the person found by exactly one of e-mail,
// phone or reference. The values come in the form's body only.
func (s *Server) handleConsoleRequestOpen() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("request_new.title")
		form := map[string]string{}
		for _, k := range []string{"type", "email", "phone", "ref", "purpose"} {
			form[k] = strings.TrimSpace(r.PostForm.Get(k))
		}
		v.Form = form
		out := &skjold.Request{Type: form["type"], Purpose: form["purpose"]}
		who := skjold.SubjectLookup{Email: form["email"], Phone: form["phone"], Ref: form["ref"]}
		err := s.svc.Requests.OpenRequest(r.Context(), out, who)
		if err == nil {
			http.Redirect(w, r, "/console/requests/"+out.ID+"?m=request_opened", http.StatusSeeOther)
			return
		}
		switch field, _ := fieldOf(err); {
		case skjold.ErrorCode(err) == skjold.ENOTFOUND:
			v.FormError = v.T("request.err.no_subject")
		case skjold.ErrorCode(err) == skjold.ECONFLICT:
			v.FormError = v.T("request.err.no_email")
		case slices.Contains([]string{"type", "email", "phone", "ref", "purpose"}, field):
			v.Errors[field] = requestMessage(v, err, field)
		default:
			v.FormError = message(v.Cat, err)
		}
		v.Data = s.requestNewData(r)
		s.render(w, r, statusOf(err), "request_new", v)
	})
}

// requestMessage returns the message for a refused field of a request form: the section's
// own where it has one, else the console's.
func requestMessage(v *web.View, err error, field string) string {
	if _, rule := fieldOf(err); rule != "" && v.Cat.Has("request.err."+field+"_"+rule) {
		return v.T("request.err."+field+"_"+rule, "max", skjold.MaxExtensionMonths, "chars", skjold.MaxRequestNote)
	}
	if strings.HasPrefix(field, "fix_") && skjold.ErrorCode(err) == skjold.EINVALID {
		return v.T("request.err.fix_value")
	}
	return message(v.Cat, err)
}

// requestPageData is what a request's page shows: the request, the actions the reader may
// take on it, and after a completion the access package's link (shown this once).
type requestPageData struct {
	R            *skjold.Request
	CanWrite     bool
	Link         string // the package's path on this server
	RefusalCodes []string
	Months       []int
	Fixes        []string // the profile fields a rectification corrects
	// Proposal is what the subject proposed on the privacy center, for a rectification.
	Proposal map[string]string
}

// requestPage renders a request's page with status, after an action or on its own.
func (s *Server) requestPage(w http.ResponseWriter, r *http.Request, v *web.View, status int, req *skjold.Request) {
	d := &requestPageData{R: req, CanWrite: skjold.CallerFromContext(r.Context()).Can(skjold.ScopeWrite),
		RefusalCodes: skjold.RefusalCodes, Fixes: rectifiable}
	for m := 1; m <= skjold.MaxExtensionMonths; m++ {
		d.Months = append(d.Months, m)
	}
	if req.Result != nil && req.Result.DownloadURL != "" {
		// The link is e-mailed to the person with the server's public address; shown here
		// as a path, it works on whichever address the console is opened on.
		if u, err := url.Parse(req.Result.DownloadURL); err == nil {
			d.Link = u.Path
		}
	}
	if req.Type == skjold.RequestRectification && s.svc.PrivacyCenter != nil {
		d.Proposal = s.requestProposal(r, v, req)
	}
	v.Data = d
	s.render(w, r, status, "request", v)
}

func (s *Server) handleConsoleRequest() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr := consoleOf(r)
		req, err := s.svc.Requests.FindRequestByID(r.Context(), r.PathValue("id"))
		if err != nil {
			s.consoleFail(w, r, cr.id, err)
			return
		}
		s.requestPage(w, r, cr.newView("request.title"), http.StatusOK, req)
	})
}

// requestAction runs one action on a request of the caller's tenant and shows the request's
// page again: redirected with notice on success, or with the refusal next to its field
// (the service's field renamed by fields to the form's) and the status the API would give.
func (s *Server) requestAction(notice string, fields map[string]string,
	act func(r *http.Request, id string) (*skjold.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr := consoleOf(r)
		id := r.PathValue("id")
		// The request must be the tenant's before anything is done: verification takes no
		// caller, and a missing request is a missing page.
		req, err := s.svc.Requests.FindRequestByID(r.Context(), id)
		if err != nil {
			s.consoleFail(w, r, cr.id, err)
			return
		}
		done, err := act(r, id)
		if err == nil && done != nil && done.Result != nil && done.Result.DownloadURL != "" {
			v := cr.newView("request.title")
			v.Notice = "notice." + notice
			s.requestPage(w, r, v, http.StatusOK, done) // the link is shown this once
			return
		}
		if err == nil {
			http.Redirect(w, r, "/console/requests/"+id+"?m="+notice, http.StatusSeeOther)
			return
		}
		v := cr.newView("request.title")
		for k := range fields {
			v.Form[fields[k]] = strings.TrimSpace(r.PostForm.Get(fields[k]))
		}
		field, _ := fieldOf(err)
		switch formField, ok := fields[field]; {
		case ok && skjold.ErrorCode(err) == skjold.EINVALID:
			v.Errors[formField] = requestMessage(v, err, formField)
		case skjold.ErrorCode(err) == skjold.ECONFLICT:
			v.FormError = v.T("request.err.conflict")
		default:
			v.FormError = message(v.Cat, err)
		}
		s.requestPage(w, r, v, statusOf(err), req)
	})
}

func (s *Server) handleConsoleRequestVerify() http.Handler {
	return s.requestAction("request_verified", map[string]string{"code": "verify_code"},
		func(r *http.Request, id string) (*skjold.Request, error) {
			code := strings.TrimSpace(r.PostForm.Get("verify_code"))
			if code == "" {
				return nil, skjold.FieldError("code", "required", "required")
			}
			out, err := s.svc.Requests.VerifyRequest(r.Context(), id, code)
			if skjold.ErrorCode(err) == skjold.EINVALID {
				if f, _ := fieldOf(err); f == "" {
					err = skjold.FieldError("code", "wrong", "wrong code")
				}
			}
			return out, err
		})
}

func (s *Server) handleConsoleRequestResend() http.Handler {
	return s.requestAction("request_code_sent", nil, func(r *http.Request, id string) (*skjold.Request, error) {
		return nil, s.svc.Requests.ResendCode(r.Context(), id)
	})
}

func (s *Server) handleConsoleRequestExtend() http.Handler {
	return s.requestAction("request_extended", map[string]string{"months": "months", "reason": "reason"},
		func(r *http.Request, id string) (*skjold.Request, error) {
			months, err := strconv.Atoi(r.PostForm.Get("months"))
			if err != nil {
				return nil, skjold.FieldError("months", "range", "months must be a number")
			}
			return s.svc.Requests.ExtendRequest(r.Context(), id, months, r.PostForm.Get("reason"))
		})
}

func (s *Server) handleConsoleRequestRefuse() http.Handler {
	return s.requestAction("request_refused", map[string]string{"code": "refusal_code", "note": "note"},
		func(r *http.Request, id string) (*skjold.Request, error) {
			return s.svc.Requests.RefuseRequest(r.Context(), id, r.PostForm.Get("refusal_code"), r.PostForm.Get("note"))
		})
}

// rectifiable are the profile fields a rectification corrects from the request's page,
// each posted as fix_<name>.
var rectifiable = []string{"name", "email", "phone", "ref", "birth_date"}

// handleConsoleRequestComplete carries out a verified request. A rectification brings the
// corrected profile values, filled in on the page; an empty field is left as it is.
func (s *Server) handleConsoleRequestComplete() http.Handler {
	fields := map[string]string{"subject": "fix"}
	for _, f := range rectifiable {
		fields[f] = "fix_" + f
	}
	return s.requestAction("request_completed", fields, func(r *http.Request, id string) (*skjold.Request, error) {
		var fix *skjold.Rectification
		values := map[string]*string{}
		for _, f := range rectifiable {
			if v := strings.TrimSpace(r.PostForm.Get("fix_" + f)); v != "" {
				values[f] = &v
			}
		}
		if len(values) > 0 {
			fix = &skjold.Rectification{Subject: skjold.SubjectUpdate{Name: values["name"], Email: values["email"],
				Phone: values["phone"], Ref: values["ref"], BirthDate: values["birth_date"]}}
		}
		return s.svc.Requests.CompleteRequest(r.Context(), id, fix)
	})
}
