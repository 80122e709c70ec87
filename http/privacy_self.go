package http

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/web"
)

// The subject's own view on the privacy center, under /p/{slug}/me: a login by a one-time
// code sent to the address on file, then the data held about the subject, their consents
// (granted or withdrawn here, as through the API) and who accessed their data. The session
// is a __Host- cookie of SubjectSessionLifetime whose secret the store keeps only hashed.

// pcSelfCookie holds the subject's session secret.
const pcSelfCookie = "__Host-skjold_me"

// selfAccessPage is how many entries one page of the access list shows; tests lower it.
var selfAccessPage = 20

// selfData is what the subject's own pages show, besides the privacy center's frame.
type selfData struct {
	*privacyData
	Page     string // data, consents, access; "" on the login pages
	LoginID  string
	Sent     bool
	Sections []selfSection
	Consents []selfConsent
	Accesses []selfAccess
	Older    int64 // the before= of the next page of the access list; 0: none
	First    bool  // the access list's first page
	Restrict bool  // the subject's processing is restricted: no consent can be granted
}

type selfSection struct {
	Label   string
	Records []selfRecord
}

type selfRecord struct {
	Created time.Time
	Fields  []selfField
}

type selfField struct{ Label, Value string }

type selfConsent struct {
	Name, Label, Notice string
	Version             int
	Granted             bool
	Given               bool // a grant or withdrawal was ever recorded
	At                  time.Time
	Source              string
	CurrentNotice       string
	CurrentVersion      int
}

type selfAccess struct {
	Time                   time.Time
	Who, What, Fields, Why string
}

func (s *Server) selfService() skjold.SubjectSelfService {
	self, _ := s.svc.PrivacyCenter.(skjold.SubjectSelfService)
	return self
}

// privacySelfRoutes are the subject's own pages; none when the store cannot log subjects in.
func (s *Server) privacySelfRoutes() []route {
	if s.selfService() == nil {
		return nil
	}
	return []route{
		{"GET /p/{slug}/me", public, s.handleSelfData()},
		{"POST /p/{slug}/me/login", public, s.handleSelfLogin()},
		{"POST /p/{slug}/me/verify", public, s.handleSelfVerify()},
		{"POST /p/{slug}/me/logout", public, s.handleSelfLogout()},
		{"GET /p/{slug}/me/consents", public, s.handleSelfConsents()},
		{"POST /p/{slug}/me/consents", public, s.handleSelfConsent()},
		{"GET /p/{slug}/me/access", public, s.handleSelfAccess()},
	}
}

func selfOf(r *http.Request) (*web.View, *selfData) {
	v, d := privacyOf(r)
	sd := &selfData{privacyData: d}
	v.Data = sd
	return v, sd
}

// selfSession returns the subject's own context from the session cookie, or shows the
// login page (for a page) and returns ok false.
func (s *Server) selfSession(w http.ResponseWriter, r *http.Request, v *web.View, d *selfData) (context.Context, string, bool) {
	if ck, err := r.Cookie(pcSelfCookie); err == nil {
		ctx, id, err := s.selfService().SubjectSession(r.Context(), d.Tenant.ID, ck.Value)
		if err == nil {
			return ctx, id, true
		}
		if skjold.ErrorCode(err) != skjold.ENOTFOUND {
			s.log.Error("subject session not read", "err", err)
			s.privacyFail(w, r, http.StatusInternalServerError, "error.internal")
			return nil, "", false
		}
		http.SetCookie(w, &http.Cookie{Name: pcSelfCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true,
			SameSite: http.SameSiteStrictMode})
	}
	if r.Method == http.MethodPost {
		s.privacyFail(w, r, http.StatusForbidden, "error.expired")
		return nil, "", false
	}
	if r.URL.Path != d.Base+"me" {
		http.Redirect(w, r, d.Base+"me", http.StatusSeeOther)
		return nil, "", false
	}
	v.Title = "privacy_self.login.title"
	s.render(w, r, http.StatusOK, "privacy.self_login", v)
	return nil, "", false
}

// handleSelfLogin sends a code to the address on file of the subject named, or, for an
// unknown address, does the same work: the page that follows is the same either way.
func (s *Server) handleSelfLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, d := selfOf(r)
		v.Title = "privacy_self.login.title"
		for _, k := range []string{"email", "phone"} {
			v.Form[k] = strings.TrimSpace(r.PostForm.Get(k))
		}
		who := skjold.SubjectLookup{Email: v.Form["email"], Phone: v.Form["phone"]}
		id, err := s.selfService().StartSubjectLogin(r.Context(), d.Tenant.ID, who, v.Lang())
		if err != nil {
			if skjold.ErrorCode(err) != skjold.EINVALID {
				s.log.Error("subject login not started", "err", err)
				s.privacyFail(w, r, http.StatusInternalServerError, "error.internal")
				return
			}
			field, _ := fieldOf(err)
			if field != "phone" {
				field = "email"
			}
			v.Errors[field] = privacyMessage(v.Cat, err)
			v.FormError = v.Errors[field]
			s.render(w, r, http.StatusUnprocessableEntity, "privacy.self_login", v)
			return
		}
		d.LoginID, d.Sent = id, true
		v.Form = map[string]string{}
		s.render(w, r, http.StatusOK, "privacy.self_login", v)
	})
}

// handleSelfVerify checks the code; a right one opens the session.
func (s *Server) handleSelfVerify() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, d := selfOf(r)
		v.Title = "privacy_self.login.title"
		d.LoginID = r.PostForm.Get("id")
		secret, err := s.selfService().VerifySubjectLogin(r.Context(), d.Tenant.ID, d.LoginID, strings.TrimSpace(r.PostForm.Get("code")))
		if err != nil {
			status, key := http.StatusUnauthorized, "privacy.verify.wrong"
			switch skjold.ErrorCode(err) {
			case skjold.EINVALID, skjold.ENOTFOUND:
			case skjold.ETOOMANY:
				status, key = http.StatusTooManyRequests, "privacy_self.login.too_many"
			case skjold.ECONFLICT:
				status, key = http.StatusConflict, "privacy_self.login.expired"
			default:
				s.log.Error("subject login not verified", "err", err)
				s.privacyFail(w, r, http.StatusInternalServerError, "error.internal")
				return
			}
			v.Errors["code"] = v.Cat.T(key)
			v.FormError = v.Errors["code"]
			s.render(w, r, status, "privacy.self_login", v)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: pcSelfCookie, Value: secret, Path: "/", HttpOnly: true, Secure: true,
			SameSite: http.SameSiteStrictMode, MaxAge: int(skjold.SubjectSessionLifetime.Seconds())})
		http.Redirect(w, r, d.Base+"me", http.StatusSeeOther)
	})
}

// handleSelfLogout ends the session.
func (s *Server) handleSelfLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, d := selfOf(r)
		if ck, err := r.Cookie(pcSelfCookie); err == nil {
			if err := s.selfService().EndSubjectSession(r.Context(), d.Tenant.ID, ck.Value); err != nil {
				s.log.Error("subject session not ended", "err", err)
			}
		}
		http.SetCookie(w, &http.Cookie{Name: pcSelfCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true,
			SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, d.Base+"me?bye=1", http.StatusSeeOther)
	})
}

// handleSelfData shows everything held about the subject, purpose-bound fields included,
// read through the export service that makes the access package.
func (s *Server) handleSelfData() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, d := selfOf(r)
		if r.URL.Query().Get("bye") == "1" {
			v.Notice = "privacy_self.login.bye"
		}
		ctx, id, ok := s.selfSession(w, r, v, d)
		if !ok {
			return
		}
		data, err := s.selfService().SubjectData(ctx, id)
		if err != nil {
			s.selfFailed(w, r, "subject data not read", err)
			return
		}
		d.Page, v.Title = "data", "privacy_self.data.title"
		d.Sections = selfSections(v, data)
		s.render(w, r, http.StatusOK, "privacy.self_data", v)
	})
}

// selfFailed answers a failed read or change of the subject's own data.
func (s *Server) selfFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	if skjold.ErrorCode(err) == skjold.ENOTFOUND { // the subject is gone
		s.privacyFail(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	s.log.Error(what, "err", err)
	s.privacyFail(w, r, http.StatusInternalServerError, "error.internal")
}

// selfSections lays out the subject's profile and records by category, with labels.
func selfSections(v *web.View, data *skjold.SubjectData) []selfSection {
	sub := data.Subject
	profile := selfRecord{Created: sub.CreatedAt}
	for _, f := range [][2]string{{"name", sub.Name}, {"email", sub.Email}, {"phone", sub.Phone},
		{"birth_date", sub.BirthDate}, {"ref", sub.Ref}} {
		if f[1] != "" {
			profile.Fields = append(profile.Fields, selfField{v.T("privacy_self.field." + f[0]), f[1]})
		}
	}
	out := []selfSection{{Label: v.T("privacy_self.data.profile"), Records: []selfRecord{profile}}}
	for _, cat := range data.Categories {
		recs := data.Records[cat.Name]
		if cat.Name == skjold.SubjectCategory || len(recs) == 0 {
			continue
		}
		sec := selfSection{Label: displayLabel(cat.Name, cat.Description)}
		for _, rec := range recs {
			sr := selfRecord{Created: rec.CreatedAt}
			for _, f := range cat.Fields {
				if val, ok := rec.Data[f.Name]; ok && val != nil {
					sr.Fields = append(sr.Fields, selfField{displayLabel(f.Name, f.Description), selfValue(v, val)})
				}
			}
			sec.Records = append(sec.Records, sr)
		}
		out = append(out, sec)
	}
	return out
}

// displayLabel is how a category, field or purpose is named to a subject: its description
// when it is short enough to be a label, else its name in words.
func displayLabel(name, description string) string {
	if d := strings.TrimSpace(description); d != "" && len([]rune(d)) <= 60 && !strings.Contains(d, "\n") {
		return d
	}
	words := strings.ReplaceAll(name, "_", " ")
	if words == "" {
		return ""
	}
	return strings.ToUpper(words[:1]) + words[1:]
}

func selfValue(v *web.View, val any) string {
	switch x := val.(type) {
	case bool:
		if x {
			return v.T("privacy_self.data.yes")
		}
		return v.T("privacy_self.data.no")
	case string:
		return x
	}
	return fmt.Sprint(val)
}

// handleSelfConsents shows each consent purpose: the newest grant or withdrawal, with the
// notice text it was given under and when, and the notice in force now.
func (s *Server) handleSelfConsents() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, d := selfOf(r)
		ctx, id, ok := s.selfSession(w, r, v, d)
		if !ok {
			return
		}
		switch r.URL.Query().Get("done") {
		case "grant":
			v.Notice = "privacy_self.consents.granted"
		case "withdraw":
			v.Notice = "privacy_self.consents.withdrawn"
		}
		s.renderSelfConsents(w, r, ctx, id, http.StatusOK, v, d)
	})
}

func (s *Server) renderSelfConsents(w http.ResponseWriter, r *http.Request, ctx context.Context, id string, status int, v *web.View, d *selfData) {
	// the access package's read: the consent history with its notice texts, also for a
	// subject whose processing is restricted (it is their own data)
	data, err := s.selfService().SubjectData(ctx, id)
	if err != nil {
		s.selfFailed(w, r, "subject consents not read", err)
		return
	}
	d.Restrict = data.Subject.Restricted
	for _, p := range s.consentPurposes(r, d.Tenant.ID) {
		c := selfConsent{Name: p.Name, Label: displayLabel(p.Name, p.Description), CurrentNotice: p.Notice, CurrentVersion: p.NoticeVersion}
		for _, h := range data.Consents { // oldest first: the last one is in force
			if h.Purpose == p.Name {
				c.Given, c.Granted, c.At, c.Notice, c.Version, c.Source = true, h.Granted, h.CreatedAt, h.Notice, h.NoticeVersion, h.Source
			}
		}
		d.Consents = append(d.Consents, c)
	}
	d.Page, v.Title = "consents", "privacy_self.consents.title"
	s.render(w, r, status, "privacy.self_consents", v)
}

// handleSelfConsent grants or withdraws one consent, through the purpose service as the API
// does: a withdrawal stops the purpose for the subject at once.
func (s *Server) handleSelfConsent() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, d := selfOf(r)
		ctx, id, ok := s.selfSession(w, r, v, d)
		if !ok {
			return
		}
		action := r.PostForm.Get("action")
		purpose := r.PostForm.Get("purpose")
		known := false
		for _, p := range s.consentPurposes(r, d.Tenant.ID) {
			known = known || p.Name == purpose
		}
		if !known || (action != "grant" && action != "withdraw") {
			v.FormError = v.T("privacy_self.consents.err_invalid")
			s.renderSelfConsents(w, r, ctx, id, http.StatusUnprocessableEntity, v, d)
			return
		}
		err := s.svc.Purposes.RecordConsent(ctx, &skjold.Consent{SubjectID: id, Purpose: purpose, Granted: action == "grant",
			Source: skjold.SourcePortal})
		switch skjold.ErrorCode(err) {
		case "":
			http.Redirect(w, r, d.Base+"me/consents?done="+action, http.StatusSeeOther)
		case skjold.ECONFLICT, skjold.EINVALID:
			v.FormError = v.T("privacy_self.consents.err_restricted")
			s.renderSelfConsents(w, r, ctx, id, http.StatusConflict, v, d)
		default:
			s.selfFailed(w, r, "subject consent not recorded", err)
		}
	})
}

// handleSelfAccess lists who accessed the subject's data, newest first, a page at a time.
func (s *Server) handleSelfAccess() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, d := selfOf(r)
		_, id, ok := s.selfSession(w, r, v, d)
		if !ok {
			return
		}
		before, err := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
		if err != nil || before < 0 {
			before = 0
		}
		list, err := s.selfService().SubjectAccessLog(r.Context(), d.Tenant.ID, id, before, selfAccessPage+1)
		if err != nil {
			s.selfFailed(w, r, "subject access list not read", err)
			return
		}
		if len(list) > selfAccessPage {
			list = list[:selfAccessPage]
			d.Older = list[len(list)-1].Seq
		}
		d.First = before == 0
		purposes, fields := s.selfLabels(r, v, d.Tenant.ID)
		for _, a := range list {
			row := selfAccessRow(v, d.Tenant.Name, a, fields)
			if l, ok := purposes[row.Why]; ok {
				row.Why = l
			}
			d.Accesses = append(d.Accesses, row)
		}
		d.Page, v.Title = "access", "privacy_self.access.title"
		s.render(w, r, http.StatusOK, "privacy.self_access", v)
	})
}

// selfActions names the audit actions a subject is shown in words; others are "other".
var selfActions = map[string]string{
	"subject.read": "read", "record.read": "read", "consent.read": "read", "subject.export": "export",
	"tenant.export": "export", "download.fetch": "download", "download.create": "package",
	"subject.create": "create", "record.create": "create", "subject.update": "update", "record.update": "update",
	"subject.relationship": "update", "record.delete": "delete", "subject.erase": "erase",
	"consent.grant": "consent", "consent.withdraw": "consent", "contact.check": "contact",
	"hold.place": "hold", "hold.release": "hold", "audit.read": "audit",
	"request.open": "request", "request.verify": "request", "request.verify_failed": "request", "request.complete": "request",
	"request.refuse": "request", "request.extend": "request", "request.resend": "request",
}

// selfLabels returns the display labels of the tenant's purposes and of the fields of its
// categories (the profile's from the catalogue), by name.
func (s *Server) selfLabels(r *http.Request, v *web.View, tenantID string) (purposes, fields map[string]string) {
	purposes, fields = map[string]string{}, map[string]string{}
	n, err := s.svc.PrivacyCenter.PublicNotice(r.Context(), tenantID)
	if err != nil {
		return purposes, fields
	}
	for _, p := range n.Purposes {
		purposes[p.Name] = displayLabel(p.Name, p.Description)
	}
	for _, c := range n.Categories {
		for _, f := range c.Fields {
			if _, ok := fields[f.Name]; !ok && c.Name != skjold.SubjectCategory {
				fields[f.Name] = displayLabel(f.Name, f.Description)
			}
		}
	}
	for _, f := range []string{"name", "email", "phone", "birth_date", "ref"} {
		fields[f] = v.T("privacy_self.field." + f)
	}
	return purposes, fields
}

func selfAccessRow(v *web.View, tenant string, a *skjold.SubjectAccess, labels map[string]string) selfAccess {
	row := selfAccess{Time: a.Time, Why: a.Purpose}
	switch a.Accessor {
	case skjold.AccessorStaff:
		role := v.T("privacy_self.access.role_unknown")
		if a.Role != "" && v.Cat.Has("role.tenant_"+a.Role) {
			role = v.T("role.tenant_" + a.Role)
		}
		row.Who = v.T("privacy_self.access.staff", "tenant", tenant, "role", role)
	default:
		row.Who = v.T("privacy_self.access."+a.Accessor, "tenant", tenant)
	}
	what, ok := selfActions[a.Action]
	if !ok {
		what = "other"
	}
	row.What = v.T("privacy_self.action." + what)
	var fields []string
	for _, f := range a.Fields {
		if strings.Contains(f, ":") {
			continue // a note such as purpose:… or reason:…, not a field
		}
		if l, ok := labels[f]; ok {
			f = l
		} else {
			f = displayLabel(f, "")
		}
		fields = append(fields, f)
	}
	row.Fields = strings.Join(fields, ", ")
	return row
}
