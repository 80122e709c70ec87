package http

import (
	"net/url"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// TestConsoleResetMailLanguage: "forgot your password" on a page in Polish sends the reset
// e-mail in Polish to a person who saved no language, and in their saved language to one
// who did.
func TestConsoleResetMailLanguage(t *testing.T) {
	e := newEnv(t)
	fresh := e.newStaff(t, "", skjold.RoleSupport, "")
	saved := e.activeStaff(t, "", skjold.RoleSupport, "")
	c := e.consoleClient(t)
	c.login(t, saved)
	c.post(t, "/console/account/language", url.Values{"lang": {"nb"}, "next": {"/console/"}}).wantRedirect(t, "/console/")
	for _, tc := range []struct {
		who  *staff
		want string
	}{{fresh, "Ktoś poprosił o zresetowanie hasła"}, {saved, "Noen har bedt om å tilbakestille passordet"}} {
		v := e.consoleClient(t)
		v.header.Set("Accept-Language", "pl-PL,pl;q=0.9")
		v.get(t, "/console/forgot").want(t, 200)
		v.post(t, "/console/forgot", url.Values{"email": {tc.who.user.Email}}).want(t, 200)
		if body := e.mailTo(t, tc.who.user.Email); !strings.Contains(body, tc.want) || !strings.Contains(body, "#token=") {
			t.Errorf("reset e-mail to %s does not say %q:\n%s", tc.who.user.Email, tc.want, body)
		}
	}
}
