package http

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/web"
)

// The console's account pages: logging in and its steps, passwords, two-step login, the
// idle lock, sessions, logging out and the language. Each calls the AuthService exactly as
// the API's auth routes do.

func (s *Server) handleConsoleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.consoleFail(w, r, nil, skjold.Errorf(skjold.ENOTFOUND, "no such page"))
	})
}

func (s *Server) handleConsoleLoginPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusOK, "login", consoleOf(r).newView("login.title"))
	})
}

func (s *Server) handleConsoleLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("login.title")
		email, password := strings.TrimSpace(r.PostForm.Get("email")), r.PostForm.Get("password")
		v.Form["email"] = email
		if email == "" {
			v.Errors["email"] = v.T("err.required")
		}
		if password == "" {
			v.Errors["password"] = v.T("err.required")
		}
		if len(v.Errors) > 0 {
			s.render(w, r, http.StatusBadRequest, "login", v)
			return
		}
		// The page's language, for a mail the login sends (a pending account's code).
		ctx := skjold.WithLanguage(r.Context(), v.Cat.Lang())
		sess, _, err := s.svc.Auth.Login(ctx, skjold.Login{Email: email, Password: password, Kind: skjold.SessionCookie})
		if err != nil {
			status := statusOf(err)
			switch skjold.ErrorCode(err) {
			case skjold.EUNAUTHORIZED:
				v.FormError = v.T("err.login")
			case skjold.EFORBIDDEN:
				v.FormError = v.T("err.network")
			default:
				if f, _ := fieldOf(err); f == "email" {
					v.Errors["email"] = v.T("err.email")
				} else {
					v.FormError = message(v.Cat, err)
				}
			}
			s.render(w, r, status, "login", v)
			return
		}
		setSessionCookies(w, sess)
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
	})
}

// statusOf returns the HTTP status the API gives err.
func statusOf(err error) int {
	if st, ok := statuses[skjold.ErrorCode(err)]; ok {
		return st
	}
	return http.StatusInternalServerError
}

func (s *Server) handleConsoleCodePage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusOK, "code", consoleOf(r).newView("code.title"))
	})
}

func (s *Server) handleConsoleCode() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("code.title")
		err := s.svc.Auth.SecondFactor(r.Context(), strings.TrimSpace(r.PostForm.Get("code")))
		switch skjold.ErrorCode(err) {
		case "":
			http.Redirect(w, r, "/console/", http.StatusSeeOther)
			return
		case skjold.EUNAUTHORIZED, skjold.EINVALID:
			v.Errors["code"] = v.T("err.code")
		default:
			v.FormError = message(v.Cat, err)
		}
		s.render(w, r, statusOf(err), "code", v)
	})
}

// passwordView is the password page's view with the caller's policy shown, the rule that
// refused a password (if any) marked.
func (s *Server) passwordView(r *http.Request, refused error) *web.View {
	cr := consoleOf(r)
	title := "password.title"
	if cr.id.Stage == skjold.StageChangePassword {
		title = "password.forced"
	}
	v := cr.newView(title)
	set, err := s.svc.Auth.SessionSettings(r.Context())
	if err != nil {
		return v
	}
	p := set.Password
	v.Policy = policyRules(v, p, refused)
	return v
}

// policyRules lists a password policy's rules, the one refused broke marked.
func policyRules(v *web.View, p skjold.PasswordPolicy, refused error) []web.PolicyRule {
	field, broken := fieldOf(refused)
	if field != "password" {
		broken = ""
	}
	rules := []web.PolicyRule{{Text: v.T("policy.length", "min", max(p.MinLength, skjold.MinPasswordLength)), Broken: broken == "length"}}
	if p.Classes > 0 {
		rules = append(rules, web.PolicyRule{Text: v.T("policy.classes", "classes", p.Classes), Broken: broken == "classes"})
	}
	rules = append(rules, web.PolicyRule{Text: v.T("policy.personal"), Broken: broken == "personal"},
		web.PolicyRule{Text: v.T("policy.common"), Broken: broken == "common"})
	if p.History > 0 {
		rules = append(rules, web.PolicyRule{Text: v.T("policy.history", "history", p.History), Broken: broken == "history"})
	}
	if p.BreachCheck {
		rules = append(rules, web.PolicyRule{Text: v.T("policy.breached"), Broken: broken == "breached"})
	}
	return rules
}

// passwordMessage returns the message for a password the policy refused, with the
// policy's numbers when they are known.
func passwordMessage(v *web.View, p *skjold.PasswordPolicy, err error) string {
	if p == nil {
		p = &skjold.PasswordPolicy{}
	}
	return message(v.Cat, err, "min", max(p.MinLength, skjold.MinPasswordLength), "max", skjold.MaxPasswordLength,
		"classes", p.Classes)
}

func (s *Server) handleConsolePasswordPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusOK, "password", s.passwordView(r, nil))
	})
}

func (s *Server) handleConsolePassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		old, pw, repeat := r.PostForm.Get("old_password"), r.PostForm.Get("password"), r.PostForm.Get("repeat")
		var err error
		switch {
		case old == "":
			err = skjold.FieldError("old_password", "required", "required")
		case pw == "":
			err = skjold.FieldError("password", "required", "required")
		case pw != repeat:
			err = skjold.FieldError("repeat", "repeat", "the passwords differ")
		default:
			err = s.svc.Auth.ChangePassword(r.Context(), old, pw)
		}
		if err == nil {
			http.Redirect(w, r, "/console/?m=password_changed", http.StatusSeeOther)
			return
		}
		v := s.passwordView(r, err)
		set, _ := s.svc.Auth.SessionSettings(r.Context())
		var policy *skjold.PasswordPolicy
		if set != nil {
			policy = &set.Password
		}
		switch field, _ := fieldOf(err); {
		case skjold.ErrorCode(err) == skjold.EUNAUTHORIZED:
			v.Errors["old_password"] = v.T("err.password_wrong")
		case field == "old_password" || field == "password" || field == "repeat":
			v.Errors[field] = passwordMessage(v, policy, err)
		default:
			v.FormError = message(v.Cat, err)
		}
		s.render(w, r, statusOf(err), "password", v)
	})
}

// twoFactorData is what the enrolment page shows after it began: the QR code and the key,
// or neither when a code was wrong and the same enrolment goes on.
type twoFactorData struct {
	QR     any
	Secret string
}

func (s *Server) handleConsoleTwoFactorPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusOK, "twofactor", consoleOf(r).newView("twofactor.title"))
	})
}

func (s *Server) handleConsoleTwoFactorBegin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("twofactor.title")
		e, err := s.svc.Auth.BeginTwoFactor(r.Context())
		if err != nil {
			v.FormError = message(v.Cat, err)
			s.render(w, r, statusOf(err), "twofactor", v)
			return
		}
		qr, err := web.QRCode(e.URI, v.T("twofactor.qr_alt"))
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		v.Data = &twoFactorData{QR: qr, Secret: e.Secret}
		s.render(w, r, http.StatusOK, "twofactor", v)
	})
}

func (s *Server) handleConsoleTwoFactorConfirm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		codes, err := s.svc.Auth.ConfirmTwoFactor(r.Context(), strings.TrimSpace(r.PostForm.Get("code")))
		if err == nil {
			v := consoleOf(r).newView("recovery.title")
			v.Nav, v.Stage = nil, "" // the codes come first
			v.Data = codes
			s.render(w, r, http.StatusOK, "recovery", v)
			return
		}
		v := consoleOf(r).newView("twofactor.title")
		switch skjold.ErrorCode(err) {
		case skjold.EUNAUTHORIZED:
			v.Data = &twoFactorData{}
			v.Errors["code"] = v.T("err.code")
		case skjold.EINVALID:
			v.FormError = v.T("err.no_enrolment")
		default:
			v.FormError = message(v.Cat, err)
		}
		s.render(w, r, statusOf(err), "twofactor", v)
	})
}

// recoveryCodeRE is the shape of a recovery code as the enrolment shows it.
var recoveryCodeRE = regexp.MustCompile(`^[A-Za-z0-9-]{4,32}$`)

// handleConsoleRecoveryFile hands back the recovery codes the page shows as a text file,
// so that the download works without JavaScript and the server keeps no copy: the codes
// come from the form, are checked for their shape, and leave again.
func (s *Server) handleConsoleRecoveryFile() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr := consoleOf(r)
		codes := r.PostForm["code"]
		if len(codes) == 0 || len(codes) > 20 {
			s.consoleFail(w, r, cr.id, skjold.FieldError("code", "count", "no recovery codes"))
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s\r\n\r\n", cr.view.Cat.T("recovery.file_intro", "email", cr.id.User.Email))
		for _, c := range codes {
			if !recoveryCodeRE.MatchString(c) {
				s.consoleFail(w, r, cr.id, skjold.FieldError("code", "shape", "not a recovery code"))
				return
			}
			b.WriteString(c + "\r\n")
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="skjold-recovery-codes.txt"`)
		_, _ = w.Write([]byte(b.String()))
	})
}

func (s *Server) handleConsoleLockPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr := consoleOf(r)
		next := localPath(r.URL.Query().Get("next"))
		if cr.id.Stage != skjold.StageLocked {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
		v := cr.newView("lock.title")
		v.Form["next"] = next
		s.render(w, r, http.StatusOK, "lock", v)
	})
}

func (s *Server) handleConsoleUnlock() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next := localPath(r.PostForm.Get("next"))
		err := s.svc.Auth.Unlock(r.Context(), r.PostForm.Get("password"))
		if err == nil {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
		v := consoleOf(r).newView("lock.title")
		v.Nav, v.IdleSeconds = nil, 0
		v.Form["next"] = next
		if skjold.ErrorCode(err) == skjold.EUNAUTHORIZED {
			v.Errors["password"] = v.T("err.password_wrong")
		} else {
			v.FormError = message(v.Cat, err)
		}
		s.render(w, r, statusOf(err), "lock", v)
	})
}

func (s *Server) handleConsoleLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.svc.Auth.Logout(r.Context()); err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		clearSessionCookies(w)
		http.Redirect(w, r, "/console/login?m=logged_out", http.StatusSeeOther)
	})
}

func (s *Server) handleConsoleLanguage(person bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lang := r.PostForm.Get("lang")
		if !skjold.ValidLanguage(lang) {
			s.consoleFail(w, r, nil, skjold.FieldError("lang", "language", "unknown language"))
			return
		}
		next := localPath(r.PostForm.Get("next"))
		if person && s.svc.Preferences != nil {
			if err := s.svc.Preferences.SetLanguage(r.Context(), lang); err != nil {
				s.consoleFail(w, r, consoleOf(r).id, err)
				return
			}
			if !strings.Contains(next, "?") {
				next += "?m=language_saved"
			}
		}
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/console/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, next, http.StatusSeeOther)
	})
}

func (s *Server) handleConsoleForgotPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusOK, "forgot", consoleOf(r).newView("forgot.title"))
	})
}

func (s *Server) handleConsoleForgot() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("forgot.title")
		email := strings.TrimSpace(r.PostForm.Get("email"))
		v.Form["email"] = email
		// The e-mail is written in this page's language when the person saved none.
		err := s.svc.Auth.RequestReset(skjold.WithLanguage(r.Context(), consoleOf(r).view.Cat.Lang()), email)
		switch field, _ := fieldOf(err); {
		case err == nil:
			v.Data = true
		case field == "email" || email == "":
			v.Errors["email"] = v.T("err.email")
		default:
			v.FormError = message(v.Cat, err)
		}
		status := statusOf(err)
		if err == nil {
			status = http.StatusOK
		}
		s.render(w, r, status, "forgot", v)
	})
}

// The reset page is what the e-mailed link opens: /console/reset#token=…. The code travels
// in the fragment, which browsers never send, so it reaches no server or proxy log and no
// Referer header; console.js copies it into the form, which posts it. Without JavaScript
// the reader pastes the code from the e-mail into the same field.
func (s *Server) handleConsoleResetPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusOK, "reset", consoleOf(r).newView("reset.title"))
	})
}

func (s *Server) handleConsoleReset() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, pw, repeat := strings.TrimSpace(r.PostForm.Get("token")), r.PostForm.Get("password"), r.PostForm.Get("repeat")
		var err error
		switch {
		case token == "":
			err = skjold.FieldError("token", "required", "required")
		case pw == "":
			err = skjold.FieldError("password", "required", "required")
		case pw != repeat:
			err = skjold.FieldError("repeat", "repeat", "the passwords differ")
		default:
			err = s.svc.Auth.CompleteReset(r.Context(), token, pw)
		}
		if err == nil {
			http.Redirect(w, r, "/console/login?m=password_reset", http.StatusSeeOther)
			return
		}
		v := consoleOf(r).newView("reset.title")
		v.Form["token"] = token
		switch field, rule := fieldOf(err); {
		case skjold.ErrorCode(err) == skjold.EUNAUTHORIZED:
			v.Errors["token"] = v.T("err.reset_token")
		case field == "password" && (rule == "length" || rule == "classes"):
			// The policy is the account's tenant's, which the page does not know before
			// the reset succeeds: the rule is named without its numbers.
			v.Errors["password"] = v.T("err.password_" + rule + "_any")
		case field == "token" || field == "password" || field == "repeat":
			v.Errors[field] = message(v.Cat, err)
		default:
			v.FormError = message(v.Cat, err)
		}
		s.render(w, r, statusOf(err), "reset", v)
	})
}

func (s *Server) handleConsoleDashboard() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr := consoleOf(r)
		v := cr.newView("dashboard.title")
		var pages []web.NavItem
		for _, item := range v.Nav {
			if item.Href != "/console/" && item.Href != "/console/sessions" {
				pages = append(pages, item)
			}
		}
		work := "dashboard.work_pages"
		if len(pages) == 0 {
			work = "dashboard.work_none"
		}
		d := s.dashboardWork(r, work)
		d.Pages = pages
		v.Data = d
		s.render(w, r, http.StatusOK, "dashboard", v)
	})
}

func (s *Server) handleConsoleSessions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr := consoleOf(r)
		sessions, err := s.svc.Auth.FindSessions(r.Context(), cr.id.User.ID)
		if err != nil {
			s.consoleFail(w, r, cr.id, err)
			return
		}
		v := cr.newView("sessions.title")
		v.Data = sessions
		s.render(w, r, http.StatusOK, "sessions", v)
	})
}

func (s *Server) handleConsoleSessionRevoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr := consoleOf(r)
		id := r.PathValue("id")
		if err := s.svc.Auth.RevokeSession(r.Context(), id); err != nil {
			s.consoleFail(w, r, cr.id, err)
			return
		}
		if id == cr.id.Session.ID {
			clearSessionCookies(w)
			http.Redirect(w, r, "/console/login?m=logged_out", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/console/sessions?m=session_ended", http.StatusSeeOther)
	})
}
