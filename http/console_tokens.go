package http

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/web"
)

// The console's people pages for API tokens, custom profiles and the register of
// authorised persons. They call the TokenService, the AuthService's profile methods and the
// RegisterService as the API's routes do (http/token.go, profile.go, register.go); the
// register's CSV is written by the same writer as the API's.

func init() {
	tokens, admin, audit := either(skjold.ScopeAdmin, skjold.ScopeOperatorManage), tenant(skjold.ScopeAdmin), tenant(skjold.ScopeAudit)
	addConsoleSection(func(s *Server) []route {
		return []route{
			{"GET /console/tokens", tokens, s.handleConsoleTokens()},
			{"POST /console/tokens", tokens, s.handleConsoleTokenCreate()},
			{"POST /console/tokens/{id}/revoke", tokens, s.handleConsoleTokenRevoke()},
			{"GET /console/profiles", admin, s.handleConsoleProfiles()},
			{"POST /console/profiles", admin, s.handleConsoleProfilePut()},
			{"POST /console/profiles/{name}/delete", admin, s.handleConsoleProfileDelete()},
			{"GET /console/register", audit, s.handleConsoleRegister()},
			{"GET /console/register.csv", audit, s.handleConsoleRegisterCSV()},
		}
	}, navItem{70, "/console/tokens", "nav.tokens", tokens}, navItem{70, "/console/profiles", "nav.profiles", admin},
		navItem{70, "/console/register", "nav.register", audit})
}

type cfgTokensData struct {
	Tokens   []*skjold.Token
	Scopes   []cfgScopeChoice  // the scopes a new token may be given
	Purposes []*skjold.Purpose // the purposes a new tenant token may be limited to
	New      *skjold.Token     // the token just created, with its secret, shown once
}

// cfgScopeChoice is a scope offered in a form, with the message key that explains it.
type cfgScopeChoice struct{ Name, Key string }

// cfgScopeChoices returns scopes as a form offers them.
func cfgScopeChoices(scopes []string) []cfgScopeChoice {
	out := make([]cfgScopeChoice, len(scopes))
	for i, s := range scopes {
		out[i] = cfgScopeChoice{s, "tokens.scope_" + strings.ReplaceAll(s, ".", "_")}
	}
	return out
}

// cfgTokenScopes are the scopes the caller's tokens may hold: a tenant's scopes, or for the
// operator the operator's.
func cfgTokenScopes(c *skjold.Caller) []cfgScopeChoice {
	if c.Operator {
		return cfgScopeChoices([]string{skjold.ScopeOperatorRead, skjold.ScopeOperatorManage, skjold.ScopeOperatorStaff})
	}
	return cfgScopeChoices(skjold.AllScopes)
}

func (s *Server) cfgLoadTokens(r *http.Request, created *skjold.Token) func(v *web.View) error {
	return func(v *web.View) error {
		toks, err := s.svc.Tokens.FindTokens(r.Context(), skjold.Page{Limit: skjold.MaxPageLimit})
		if err != nil {
			return err
		}
		c := skjold.CallerFromContext(r.Context())
		d := &cfgTokensData{Tokens: toks, Scopes: cfgTokenScopes(c), New: created}
		if !c.Operator {
			if d.Purposes, err = s.svc.Purposes.FindPurposes(r.Context()); err != nil {
				return err
			}
		}
		v.Data = d
		return nil
	}
}

func (s *Server) handleConsoleTokens() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.cfgPage(w, r, http.StatusOK, "tokens", consoleOf(r).newView("tokens.title"), s.cfgLoadTokens(r, nil))
	})
}

var cfgTokenFields = []string{"name", "scopes", "purposes", "expires_at"}

// handleConsoleTokenCreate creates a token as POST /api/v1/tokens does and shows its secret
// on the answer page, once: it is never stored and never shown again.
func (s *Server) handleConsoleTokenCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := r.PostForm
		c := skjold.CallerFromContext(r.Context())
		tok := &skjold.Token{Name: strings.TrimSpace(f.Get("name")), Scopes: f["scopes"], Purposes: f["purposes"],
			Operator: c.Operator}
		if !c.Operator {
			tok.TenantID = c.TenantID
		}
		if tok.Scopes == nil {
			tok.Scopes = []string{}
		}
		var err error
		if e := strings.TrimSpace(f.Get("expires_at")); e != "" {
			var t time.Time
			if t, err = cfgEndOfDay(e, "expires_at"); err == nil && !t.After(time.Now()) {
				err = skjold.FieldError("expires_at", "past", "expires_at must be in the future")
			}
			tok.ExpiresAt = &t
		}
		if err == nil {
			err = s.svc.Tokens.CreateToken(r.Context(), tok)
		}
		if err != nil {
			s.cfgRefused(w, r, "tokens", "tokens.title", err, cfgTokenFields, s.cfgLoadTokens(r, nil))
			return
		}
		s.cfgPage(w, r, http.StatusCreated, "tokens", consoleOf(r).newView("tokens.title"), s.cfgLoadTokens(r, tok))
	})
}

func (s *Server) handleConsoleTokenRevoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.svc.Tokens.RevokeToken(r.Context(), r.PathValue("id")); err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		http.Redirect(w, r, "/console/tokens?m=token_revoked", http.StatusSeeOther)
	})
}

type cfgProfilesData struct {
	Profiles []*skjold.Profile
	Scopes   []cfgScopeChoice
	Purposes []*skjold.Purpose
	Edit     *skjold.Profile
}

func (s *Server) cfgLoadProfiles(r *http.Request, edit string) func(v *web.View) error {
	return func(v *web.View) error {
		ps, err := s.svc.Auth.FindProfiles(r.Context())
		if err != nil {
			return err
		}
		purposes, err := s.svc.Purposes.FindPurposes(r.Context())
		if err != nil {
			return err
		}
		d := &cfgProfilesData{Profiles: ps, Scopes: cfgScopeChoices(skjold.AllScopes), Purposes: purposes}
		for _, p := range ps {
			if p.Name == edit {
				d.Edit = p
			}
		}
		v.Data = d
		return nil
	}
}

func (s *Server) handleConsoleProfiles() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("profiles.title")
		s.cfgPage(w, r, http.StatusOK, "profiles", v, s.cfgLoadProfiles(r, r.URL.Query().Get("edit")))
	})
}

var cfgProfileFields = []string{"name", "scopes", "purposes"}

// handleConsoleProfilePut creates or changes a custom profile, as PUT
// /api/v1/profiles/{name} does.
func (s *Server) handleConsoleProfilePut() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := r.PostForm
		p := &skjold.Profile{Name: strings.TrimSpace(f.Get("name")), Scopes: f["scopes"], Purposes: f["purposes"]}
		if p.Scopes == nil {
			p.Scopes = []string{}
		}
		if p.Purposes == nil {
			p.Purposes = []string{}
		}
		if _, err := s.svc.Auth.PutProfile(r.Context(), p); err != nil {
			s.cfgRefused(w, r, "profiles", "profiles.title", err, cfgProfileFields, s.cfgLoadProfiles(r, ""))
			return
		}
		http.Redirect(w, r, "/console/profiles?m=profile_saved", http.StatusSeeOther)
	})
}

// handleConsoleProfileDelete deletes a profile, as DELETE /api/v1/profiles/{name} does; a
// profile still given to someone is refused with the reason above the list.
func (s *Server) handleConsoleProfileDelete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := s.svc.Auth.DeleteProfile(r.Context(), r.PathValue("name"))
		switch skjold.ErrorCode(err) {
		case "":
			http.Redirect(w, r, "/console/profiles?m=profile_deleted", http.StatusSeeOther)
		case skjold.ECONFLICT, skjold.EINVALID:
			s.cfgRefused(w, r, "profiles", "profiles.title", err, nil, s.cfgLoadProfiles(r, ""))
		default:
			s.consoleFail(w, r, consoleOf(r).id, err)
		}
	})
}

type cfgRegisterData struct {
	Entries []*skjold.RegisterEntry
}

func (s *Server) handleConsoleRegister() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.cfgPage(w, r, http.StatusOK, "register", consoleOf(r).newView("register.title"), func(v *web.View) error {
			entries, err := s.svc.Register.Register(r.Context())
			if err != nil {
				return err
			}
			slices.SortStableFunc(entries, func(a, b *skjold.RegisterEntry) int { return strings.Compare(a.Name, b.Name) })
			v.Data = &cfgRegisterData{Entries: entries}
			return nil
		})
	})
}

// handleConsoleRegisterCSV downloads the register as the API's ?format=csv does, with the
// same writer.
func (s *Server) handleConsoleRegisterCSV() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entries, err := s.svc.Register.Register(r.Context())
		if err != nil {
			s.consoleFail(w, r, consoleOf(r).id, err)
			return
		}
		writeRegisterCSV(w, entries)
	})
}
