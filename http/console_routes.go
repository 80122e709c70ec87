package http

import (
	"net/http"

	"github.com/skjold-project/skjold"
)

// consoleNav is the console's menu: each entry is shown to the people whose role may open
// it, by the same permission its route declares.
var consoleNav = []struct {
	href, key string
	perm      perm
}{
	{"/console/", "nav.dashboard", self},
	{"/console/sessions", "nav.sessions", self},
}

// consoleRoutes is the whole console, each page and form action with the permission it
// needs, declared as the API's routes declare theirs (routes.go).
func (s *Server) consoleRoutes() []route {
	var (
		secondFactor = stage(skjold.StageSecondFactor)
		password     = stage(skjold.StageChangePassword, skjold.StageEnrolTwoFactor)
		enrol        = stage(skjold.StageEnrolTwoFactor)
		locked       = stage(skjold.StageLocked)
	)
	return []route{
		{"GET /{$}", public, http.RedirectHandler("/console/", http.StatusSeeOther)},
		{"GET /console/static/{hash}/{file}", public, s.pages.Static()},
		{"/console/", public, s.handleConsoleNotFound()},

		{"GET /console/login", public, s.handleConsoleLoginPage()},
		{"POST /console/login", public, s.handleConsoleLogin()},
		{"GET /console/forgot", public, s.handleConsoleForgotPage()},
		{"POST /console/forgot", public, s.handleConsoleForgot()},
		{"GET /console/reset", public, s.handleConsoleResetPage()},
		{"POST /console/reset", public, s.handleConsoleReset()},
		{"POST /console/language", public, s.handleConsoleLanguage(false)},

		{"GET /console/login/code", secondFactor, s.handleConsoleCodePage()},
		{"POST /console/login/code", secondFactor, s.handleConsoleCode()},
		{"GET /console/password", password, s.handleConsolePasswordPage()},
		{"POST /console/password", password, s.handleConsolePassword()},
		{"GET /console/two-factor", enrol, s.handleConsoleTwoFactorPage()},
		{"POST /console/two-factor", enrol, s.handleConsoleTwoFactorBegin()},
		{"POST /console/two-factor/confirm", enrol, s.handleConsoleTwoFactorConfirm()},
		{"GET /console/lock", locked, s.handleConsoleLockPage()},
		{"POST /console/unlock", locked, s.handleConsoleUnlock()},
		{"POST /console/logout", anyStage, s.handleConsoleLogout()},
		{"POST /console/account/language", anyStage, s.handleConsoleLanguage(true)},
		{"POST /console/account/recovery-codes.txt", self, s.handleConsoleRecoveryFile()},

		{"GET /console/{$}", self, s.handleConsoleDashboard()},
		{"GET /console/sessions", self, s.handleConsoleSessions()},
		{"POST /console/sessions/{id}/revoke", self, s.handleConsoleSessionRevoke()},
	}
}
