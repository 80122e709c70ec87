package http

import (
	"net/url"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// TestConsoleComplianceEvidenceTranslated: an owner who reads the console in Norwegian or
// Polish sees the checks' evidence in that language, while the API keeps the English lines.
func TestConsoleComplianceEvidenceTranslated(t *testing.T) {
	e := newEnv(t)
	owner, _ := e.cfgAdmin(t, skjold.RoleOwner)
	for lang, want := range map[string][]string{
		"nb": {"låsing etter 15 minutter uten aktivitet (lovet høyst 15)", "dager med sikkerhetskopi: 0 av 7"},
		"pl": {"blokada po 15 min bezczynności (obiecano najwyżej 15)", "dni z kopią zapasową: 0 z 7"},
	} {
		owner.post(t, "/console/account/language", url.Values{"lang": {lang}, "next": {"/console/"}})
		page := owner.get(t, "/console/compliance").want(t, 200)
		wantText(t, page, want...)
		for _, english := range []string{"idle_minutes 15", "days with a backup", "no successful off-site copy"} {
			if strings.Contains(string(page.body), english) {
				t.Errorf("%s: the console page carries the English evidence %q", lang, english)
			}
		}
		if strings.Contains(string(page.body), "[[") {
			t.Errorf("%s: a message key is missing on the page", lang)
		}
	}
	var rep skjold.ComplianceReport
	e.do(t, e.a.token, "GET", "/api/v1/compliance", nil).want(t, 200).decode(t, &rep)
	found := false
	for _, sc := range rep.Scopes {
		for _, ch := range sc.Checks {
			for _, ev := range ch.Evidence {
				found = found || ev == "idle_minutes 15 (promised at most 15)"
			}
		}
	}
	if !found {
		t.Errorf("the API no longer answers the English evidence: %+v", rep.Scopes)
	}
}
