package http

import (
	"net/http"
	"strings"

	"github.com/skjold-project/skjold"
)

// The console's privacy-center page: where the tenant's public pages are, and a form for
// the tenant's admin to change their slug.

func init() {
	read, admin := tenant(skjold.ScopeRead), tenant(skjold.ScopeAdmin)
	addConsoleSection(func(s *Server) []route {
		return []route{
			{"GET /console/privacy-center", read, s.handleConsolePrivacyCenter()},
			{"POST /console/privacy-center/slug", admin, s.handleConsolePrivacySlug()},
		}
	}, navItem{82, "/console/privacy-center", "nav.privacy_center", read})
}

// consolePrivacyData is what the console's privacy-center page shows.
type consolePrivacyData struct {
	Slug     string
	CanAdmin bool
}

func (s *Server) consolePrivacyPage(w http.ResponseWriter, r *http.Request, status int, errMsg string) {
	cr := consoleOf(r)
	v := cr.newView("privacy_center.title")
	if s.svc.PrivacyCenter == nil {
		s.consoleFail(w, r, cr.id, skjold.Errorf(skjold.ENOTFOUND, "no privacy center"))
		return
	}
	slug, err := s.svc.PrivacyCenter.PublicSlug(r.Context())
	if err != nil {
		s.consoleFail(w, r, cr.id, err)
		return
	}
	if errMsg != "" {
		v.Errors["slug"], v.FormError = errMsg, errMsg
		v.Form["slug"] = strings.TrimSpace(r.PostForm.Get("slug"))
	} else {
		v.Form["slug"] = slug
	}
	v.Data = &consolePrivacyData{Slug: slug, CanAdmin: skjold.CallerFromContext(r.Context()).Can(skjold.ScopeAdmin)}
	s.render(w, r, status, "privacy_center", v)
}

func (s *Server) handleConsolePrivacyCenter() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.consolePrivacyPage(w, r, http.StatusOK, "")
	})
}

func (s *Server) handleConsolePrivacySlug() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr := consoleOf(r)
		err := s.svc.PrivacyCenter.SetPublicSlug(r.Context(), strings.TrimSpace(r.PostForm.Get("slug")))
		switch code := skjold.ErrorCode(err); code {
		case "":
			http.Redirect(w, r, "/console/privacy-center?m=privacy_slug_saved", http.StatusSeeOther)
		case skjold.EINVALID:
			_, rule := fieldOf(err)
			key := "privacy_center.err_format"
			if rule == "taken" {
				key = "privacy_center.err_taken"
			}
			s.consolePrivacyPage(w, r, http.StatusBadRequest, cr.view.Cat.T(key))
		default:
			s.consoleFail(w, r, cr.id, err)
		}
	})
}
