package http

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
	"github.com/skjold-project/skjold/web"
)

// The privacy center's request forms: a subject asks for one of their rights, names
// themselves by e-mail address or phone number, and confirms with the code sent to the
// address on file; the status page then shows the request as staff move it on.

// consentPurposes returns the tenant's purposes based on consent, whose withdrawal a
// subject may ask for.
func (s *Server) consentPurposes(r *http.Request, tenantID string) []*skjold.Purpose {
	n, err := s.svc.PrivacyCenter.PublicNotice(r.Context(), tenantID)
	if err != nil {
		return nil
	}
	var out []*skjold.Purpose
	for _, p := range n.Purposes {
		if p.LegalBasis == skjold.BasisConsent {
			out = append(out, p)
		}
	}
	return out
}

func (s *Server) handlePrivacyRequestPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, d := privacyOf(r)
		d.Type = r.URL.Query().Get("type")
		if !slices.Contains(privacyTypes, d.Type) {
			d.Type = skjold.RequestAccess
		}
		s.renderPrivacyRequest(w, r, http.StatusOK, v, d)
	})
}

func (s *Server) renderPrivacyRequest(w http.ResponseWriter, r *http.Request, status int, v *web.View, d *privacyData) {
	d.Purposes = s.consentPurposes(r, d.Tenant.ID)
	v.Title = "privacy.request.title"
	s.render(w, r, status, "privacy.request", v)
}

// privacyMessage returns the reader's message for refused input: privacy.err.<field>_<rule>
// or privacy.err.<rule> where the catalogue has one, else the general one.
func privacyMessage(cat *i18n.Catalogue, err error) string {
	field, rule := fieldOf(err)
	for _, key := range []string{"privacy.err." + field + "_" + rule, "privacy.err." + rule} {
		if field != "" && cat.Has(key) {
			return cat.T(key)
		}
	}
	return cat.T("privacy.err.invalid")
}

// handlePrivacyRequest opens a request. Whether or not the address is on file, the answer
// is the same page (a form for the code) with the same status: the service does the same
// work either way, and only the owner of the address on file gets a code.
func (s *Server) handlePrivacyRequest() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, d := privacyOf(r)
		f := r.PostForm
		d.Type = f.Get("type")
		for _, k := range []string{"type", "purpose", "email", "phone", "p_name", "p_email", "p_phone", "p_birth_date", "p_details"} {
			v.Form[k] = strings.TrimSpace(f.Get(k))
		}
		req := &skjold.Request{Type: d.Type}
		if d.Type == skjold.RequestConsentWithdraw {
			req.Purpose = v.Form["purpose"]
		}
		var proposal map[string]string
		if d.Type == skjold.RequestRectification {
			proposal = map[string]string{}
			for _, k := range skjold.ProposalFields {
				if val := v.Form["p_"+k]; val != "" {
					proposal[k] = val
				}
			}
		}
		who := skjold.SubjectLookup{Email: v.Form["email"], Phone: v.Form["phone"]}
		id, err := s.svc.PrivacyCenter.OpenSubjectRequest(r.Context(), d.Tenant.ID, req, who, v.Lang(), proposal)
		if err != nil {
			if skjold.ErrorCode(err) != skjold.EINVALID {
				s.log.Error("privacy request not opened", "err", err)
				s.privacyFail(w, r, http.StatusInternalServerError, "error.internal")
				return
			}
			field, _ := fieldOf(err)
			msg := privacyMessage(v.Cat, err)
			switch field {
			case "email", "phone", "type", "purpose", "language":
				v.Errors[field] = msg
			default:
				if strings.HasPrefix(field, "proposal") || slices.Contains(skjold.ProposalFields, field) {
					v.Errors["proposal"] = msg
				}
			}
			v.FormError = msg
			if !slices.Contains(privacyTypes, d.Type) {
				d.Type = skjold.RequestAccess
			}
			s.renderPrivacyRequest(w, r, http.StatusUnprocessableEntity, v, d)
			return
		}
		d.RequestID, d.Sent = id, true
		v.Title = "privacy.verify.title"
		s.render(w, r, http.StatusOK, "privacy.verify", v)
	})
}

// handlePrivacyVerify checks the code. A right one gives this browser the request's status
// page; a wrong one, or one for a request that does not exist, gets the same answer.
func (s *Server) handlePrivacyVerify() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, d := privacyOf(r)
		d.RequestID = r.PostForm.Get("id")
		code := strings.TrimSpace(r.PostForm.Get("code"))
		secret, err := s.svc.PrivacyCenter.VerifySubjectRequest(r.Context(), d.Tenant.ID, d.RequestID, code)
		if err != nil {
			status, key := http.StatusUnauthorized, "privacy.verify.wrong"
			switch skjold.ErrorCode(err) {
			case skjold.EINVALID, skjold.ENOTFOUND:
			case skjold.ETOOMANY:
				status, key = http.StatusTooManyRequests, "privacy.verify.too_many"
			case skjold.ECONFLICT:
				status, key = http.StatusConflict, "privacy.verify.expired"
			default:
				s.log.Error("privacy request not verified", "err", err)
				s.privacyFail(w, r, http.StatusInternalServerError, "error.internal")
				return
			}
			v.Errors["code"] = v.Cat.T(key)
			v.FormError = v.Errors["code"]
			v.Title = "privacy.verify.title"
			s.render(w, r, status, "privacy.verify", v)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: pcStatusCookie, Value: secret, Path: d.Base, HttpOnly: true, Secure: true,
			SameSite: http.SameSiteStrictMode, MaxAge: int((180 * 24 * time.Hour).Seconds())})
		http.Redirect(w, r, d.Base+"status", http.StatusSeeOther)
	})
}

// handlePrivacyStatus shows the request this browser verified: its status, due date, any
// extension or refusal with its reason, and the package once it is ready.
func (s *Server) handlePrivacyStatus() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, d := privacyOf(r)
		v.Title = "privacy.status.title"
		if ck, err := r.Cookie(pcStatusCookie); err == nil {
			req, err := s.svc.PrivacyCenter.SubjectRequestStatus(r.Context(), d.Tenant.ID, ck.Value)
			if err != nil && skjold.ErrorCode(err) != skjold.ENOTFOUND {
				s.log.Error("privacy request status not read", "err", err)
				s.privacyFail(w, r, http.StatusInternalServerError, "error.internal")
				return
			}
			d.Request = req
		}
		s.render(w, r, http.StatusOK, "privacy.status", v)
	})
}

// handlePrivacyPackage hands over the access package of the request this browser verified,
// once.
func (s *Server) handlePrivacyPackage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, d := privacyOf(r)
		ck, err := r.Cookie(pcStatusCookie)
		if err != nil {
			s.privacyFail(w, r, http.StatusNotFound, "privacy.status.gone")
			return
		}
		name, content, err := s.svc.PrivacyCenter.SubjectDownload(r.Context(), d.Tenant.ID, ck.Value)
		if err != nil {
			status := http.StatusNotFound
			if skjold.ErrorCode(err) != skjold.ENOTFOUND {
				status = http.StatusConflict
			}
			s.privacyFail(w, r, status, "privacy.status.gone")
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/zip")
		h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
		h.Set("Content-Length", strconv.Itoa(len(content)))
		w.WriteHeader(http.StatusOK)
		w.Write(content) // a failed write means the client is gone
	})
}

// requestProposal reads the values a rectification request proposes, for the request's
// console page, and fills the correction form with them unless the form is shown again.
func (s *Server) requestProposal(r *http.Request, v *web.View, req *skjold.Request) map[string]string {
	p, err := s.svc.PrivacyCenter.RequestProposal(r.Context(), req.ID)
	if err != nil {
		s.log.Error("rectification proposal not read", "err", err)
		return nil
	}
	if len(v.Form) == 0 && !req.Closed() {
		for k, val := range p {
			if slices.Contains(rectifiable, k) {
				v.Form["fix_"+k] = val
			}
		}
	}
	return p
}
