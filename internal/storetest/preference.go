package storetest

import (
	"testing"

	"github.com/skjold-project/skjold"
)

// TestPreferences checks the skjold.PreferenceService: a person's saved language.
func TestPreferences(t *testing.T, h Harness) {
	e := newEnv(t, h)
	u, pw := e.newUser(e.staff(), &skjold.User{Email: "lang@operator.example", Name: "Lise Lang", Role: skjold.RoleSupport})
	_, ctx := e.login(u.Email, pw, "")
	if lang, err := e.db.Language(ctx); err != nil || lang != "" {
		t.Fatalf("Language before any choice = %q, %v; want \"\"", lang, err)
	}
	if err := e.db.SetLanguage(ctx, "xx"); skjold.ErrorCode(err) != skjold.EINVALID {
		t.Errorf("SetLanguage(xx) = %v, want EINVALID", err)
	}
	for _, lang := range []string{"nb", "pl"} {
		if err := e.db.SetLanguage(ctx, lang); err != nil {
			t.Fatal(err)
		}
		if got, err := e.db.Language(ctx); err != nil || got != lang {
			t.Errorf("Language = %q, %v; want %q", got, err, lang)
		}
	}
	if err := e.db.SetLanguage(e.staff(), "en"); skjold.ErrorCode(err) != skjold.EFORBIDDEN {
		// e.staff() is a caller without a user id: an API token does not choose a language
		t.Errorf("SetLanguage without a person = %v, want EFORBIDDEN", err)
	}
	if _, err := e.db.Language(e.anon()); skjold.ErrorCode(err) != skjold.EFORBIDDEN {
		t.Errorf("Language for an anonymous caller = %v, want EFORBIDDEN", err)
	}
}
