package http

import (
	"cmp"
	"net/http"
	"slices"
	"strings"

	"github.com/skjold-project/skjold"
)

// navItem is an entry of the console's menu: shown to the people whose role may open it, by
// the same permission its route declares. Entries are listed by order, then by href.
type navItem struct {
	order     int
	href, key string
	perm      perm
}

// consoleNav is the console's menu. The menu's order: 10 dashboard, 20 subjects, 30
// requests, 40 approvals, 50 export, 60 audit, 70 people, 80 configuration, 90 operator
// pages, 100 the person's own sessions.
var consoleNav = []navItem{
	{10, "/console/", "nav.dashboard", self},
	{100, "/console/sessions", "nav.sessions", self},
}

// consoleSections are the console's pages beyond the account pages, each group declared in
// the file that handles it (console_<section>.go) and added by that file's init with
// addConsoleSection, so that the sections stay apart.
var consoleSections []func(s *Server) []route

// addConsoleSection adds a group of console routes and its menu entries.
func addConsoleSection(routes func(s *Server) []route, nav ...navItem) {
	consoleSections = append(consoleSections, routes)
	consoleNav = append(consoleNav, nav...)
	slices.SortStableFunc(consoleNav, func(a, b navItem) int {
		return cmp.Or(cmp.Compare(a.order, b.order), strings.Compare(a.href, b.href))
	})
}

// consoleRoutes is the whole console, each page and form action with the permission it
// needs, declared as the API's routes declare theirs (routes.go).
func (s *Server) consoleRoutes() []route {
	var (
		secondFactor = stage(skjold.StageSecondFactor)
		password     = stage(skjold.StageChangePassword, skjold.StageEnrolTwoFactor)
		enrol        = stage(skjold.StageEnrolTwoFactor)
		locked       = stage(skjold.StageLocked)
		confirm      = stage(skjold.StageConfirmEmail)
	)
	routes := []route{
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
		{"GET /console/confirm-email", confirm, s.handleConsoleConfirmPage()},
		{"POST /console/confirm-email", confirm, s.handleConsoleConfirm()},
		{"POST /console/confirm-email/code", confirm, s.handleConsoleConfirmCode()},
		{"GET /console/lock", locked, s.handleConsoleLockPage()},
		{"POST /console/unlock", locked, s.handleConsoleUnlock()},
		{"POST /console/logout", anyStage, s.handleConsoleLogout()},
		{"POST /console/account/language", anyStage, s.handleConsoleLanguage(true)},
		{"POST /console/account/recovery-codes.txt", self, s.handleConsoleRecoveryFile()},

		{"GET /console/{$}", self, s.handleConsoleDashboard()},
		{"GET /console/sessions", self, s.handleConsoleSessions()},
		{"POST /console/sessions/{id}/revoke", self, s.handleConsoleSessionRevoke()},
	}
	for _, section := range consoleSections {
		routes = append(routes, section(s)...)
	}
	return routes
}
