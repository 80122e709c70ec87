package http

import (
	"net/http"
	"strings"

	"github.com/skjold-project/skjold"
)

// The address confirmation of an account a tenant's admin created (StageConfirmEmail): the
// person enters the code mailed to the address, or asks for a new one. The store decides;
// these pages only show its answers.

func (s *Server) handleConsoleConfirmPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusOK, "confirm", consoleOf(r).newView("confirm.title"))
	})
}

func (s *Server) handleConsoleConfirm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("confirm.title")
		err := s.svc.Auth.ConfirmEmail(r.Context(), strings.TrimSpace(r.PostForm.Get("code")))
		switch skjold.ErrorCode(err) {
		case "":
			http.Redirect(w, r, "/console/", http.StatusSeeOther)
			return
		case skjold.EINVALID:
			v.Errors["code"] = v.T("confirm.wrong_code")
		case skjold.ECONFLICT:
			v.FormError = v.T("confirm.taken")
		default:
			v.FormError = message(v.Cat, err)
		}
		s.render(w, r, statusOf(err), "confirm", v)
	})
}

func (s *Server) handleConsoleConfirmCode() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lang := s.pages.Bundle().Get(s.language(r, consoleOf(r).id)).Lang()
		err := s.svc.Auth.SendEmailConfirmation(skjold.WithLanguage(r.Context(), lang))
		if err == nil {
			http.Redirect(w, r, "/console/confirm-email?m=code_sent", http.StatusSeeOther)
			return
		}
		v := consoleOf(r).newView("confirm.title")
		v.FormError = message(v.Cat, err)
		s.render(w, r, statusOf(err), "confirm", v)
	})
}
