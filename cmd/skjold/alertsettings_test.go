package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// ownerSession takes the bootstrapped operator owner through the first login (password
// change, second factor) over the API and returns a session token.
func ownerSession(t *testing.T, s *server, data, email string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(data, "initial-operator-password"))
	if err != nil {
		t.Fatal(err)
	}
	otp := strings.TrimSpace(string(raw))
	var login struct{ Token string }
	if code := s.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": otp, "session": "token"}, &login); code != 200 {
		t.Fatalf("first login: %d", code)
	}
	if code := s.call(t, "POST", "/api/v1/auth/password", login.Token, map[string]string{"old_password": otp,
		"new_password": "violet-Harbour-crane-47"}, nil); code != 204 {
		t.Fatalf("password change: %d", code)
	}
	var enrol struct{ Secret string }
	if code := s.call(t, "POST", "/api/v1/auth/two-factor", login.Token, nil, &enrol); code != 200 {
		t.Fatalf("2FA enrolment: %d", code)
	}
	code, err := totp.GenerateCode(enrol.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st := s.call(t, "POST", "/api/v1/auth/two-factor/confirm", login.Token, map[string]string{"code": code}, nil); st != 200 {
		t.Fatalf("2FA confirmation: %d", st)
	}
	return login.Token
}

// alertMails returns the alert e-mails for action in the outbox, by recipient.
func alertMails(data, action string) map[string]int {
	got := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(data, "outbox", "*.eml"))
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		if !strings.Contains(string(raw), ": "+action) { // the subject, in any language
			continue
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if to, ok := strings.CutPrefix(strings.TrimSpace(line), "To: "); ok {
				got[to]++
			}
		}
	}
	return got
}

// TestAlertSettingsTakeOver: the configuration file's recipient gets alerts until an
// operator owner sets others over the API; from then the next alert goes to the new
// recipient only, through the same outbox, and a test alert reaches them too.
func TestAlertSettingsTakeOver(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, map[string]string{"SKJOLD_OPERATOR_EMAIL": "owner@fjord-it.example",
		"SKJOLD_ALERT_EMAIL": "old-desk@fjord-it.example"})
	owner := ownerSession(t, s, data, "owner@fjord-it.example")

	var settings struct{ Source string }
	if code := s.call(t, "GET", "/api/v1/operator/alerts", owner, nil, &settings); code != 200 || settings.Source != "config" {
		t.Fatalf("settings before: %d %+v", code, settings)
	}
	// Two user.create alerts under the file's settings: the bootstrapped owner, and a helper.
	createUser(t, s, owner, "First Helper", "support")
	waitFor(t, "user.create alerts to the configured address", func() bool {
		return alertMails(data, "user.create")["old-desk@fjord-it.example"] == 2
	})

	body := map[string]any{"emails": []string{"new-desk@fjord-it.example"}, "actions": []string{"user.create"}, "language": "nb"}
	if code := s.call(t, "PUT", "/api/v1/operator/alerts", owner, body, &settings); code != 200 {
		t.Fatalf("PUT alert settings: %d", code)
	}
	createUser(t, s, owner, "Second Helper", "support")
	waitFor(t, "a user.create alert to the new address", func() bool {
		return alertMails(data, "user.create")["new-desk@fjord-it.example"] == 1
	})
	if n := alertMails(data, "user.create")["old-desk@fjord-it.example"]; n != 2 {
		t.Errorf("the configured address got %d user.create alerts, want only the one from before the change", n)
	}

	outboxMail(t, data, "new-desk@fjord-it.example") // the user.create alert, read: the next is the test's

	var res struct {
		Deliveries []struct {
			Channel, Target string
			OK              bool
		}
	}
	if code := s.call(t, "POST", "/api/v1/operator/alerts/test", owner, nil, &res); code != 200 || len(res.Deliveries) != 1 || !res.Deliveries[0].OK {
		t.Fatalf("test alert: %d %+v", code, res)
	}
	if mail := outboxMail(t, data, "new-desk@fjord-it.example"); !strings.Contains(mail, "alerts.test") ||
		!strings.Contains(mail, "sikkerhetshendelse") {
		t.Errorf("test alert e-mail: %s", mail)
	}
}
