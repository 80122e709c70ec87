package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// TestOperatorOwnerFirstLogin drives the first start's owner account through the real
// server: the one-time password in its 0600 file, the forced change, the forced TOTP
// enrolment, and then real work with the session token.
func TestOperatorOwnerFirstLogin(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, map[string]string{"SKJOLD_OPERATOR_EMAIL": "owner@fjord-it.example"})
	path := filepath.Join(data, "initial-operator-password")
	mustMode(t, path, 0o600)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	otp := strings.TrimSpace(string(raw))
	// The server's output is not a terminal, so it names the file but never the password.
	if out := s.stdout.String() + s.stderr.String(); strings.Contains(out, otp) || !strings.Contains(out, path) {
		t.Errorf("the one-time password is printed, or its file not named, where no terminal reads:\n%s", out)
	}

	var login struct {
		Token string `json:"token"`
		Stage string `json:"stage"`
	}
	body := map[string]string{"email": "owner@fjord-it.example", "password": otp, "session": "token"}
	if code := s.call(t, "POST", "/api/v1/auth/login", "", body, &login); code != 200 || login.Stage != "change_password" {
		t.Fatalf("first login: %d, stage %q", code, login.Stage)
	}
	if code := s.call(t, "GET", "/api/v1/tenants", login.Token, nil, nil); code != 403 {
		t.Errorf("before the password change, listing tenants answered %d, want 403", code)
	}
	change := map[string]string{"old_password": otp, "new_password": "violet-Harbour-crane-47"}
	if code := s.call(t, "POST", "/api/v1/auth/password", login.Token, change, nil); code != 204 {
		t.Fatalf("password change: %d", code)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("after the password change, %s is still there (%v)", path, err)
	}
	if code := s.call(t, "POST", "/api/v1/tenants", login.Token, map[string]string{"name": "Too Early AS"}, nil); code != 403 {
		t.Errorf("before 2FA enrolment, creating a tenant answered %d, want 403", code)
	}
	var enrol struct {
		Secret string `json:"secret"`
		URI    string `json:"otpauth_uri"`
		QR     []byte `json:"qr_png"`
	}
	if code := s.call(t, "POST", "/api/v1/auth/two-factor", login.Token, nil, &enrol); code != 200 || len(enrol.QR) == 0 {
		t.Fatalf("2FA enrolment: %d, %d bytes of QR code", code, len(enrol.QR))
	}
	code, err := totp.GenerateCode(enrol.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var confirmed struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if st := s.call(t, "POST", "/api/v1/auth/two-factor/confirm", login.Token, map[string]string{"code": code}, &confirmed); st != 200 || len(confirmed.RecoveryCodes) != 10 {
		t.Fatalf("2FA confirmation: %d, %d recovery codes", st, len(confirmed.RecoveryCodes))
	}
	if st := s.call(t, "POST", "/api/v1/tenants", login.Token, map[string]string{"name": "Fjord Travel AS"}, nil); st != 201 {
		t.Errorf("after the first login, creating a tenant answered %d, want 201", st)
	}

	// The bootstrap token expires within a day, and ends as soon as the owner has a token of
	// their own.
	op := readToken(t, data)
	type tokenItem struct {
		Name      string     `json:"name"`
		CreatedAt time.Time  `json:"created_at"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	var tokens struct {
		Items []tokenItem `json:"items"`
	}
	s.call(t, "GET", "/api/v1/tokens", op, nil, &tokens)
	i := slices.IndexFunc(tokens.Items, func(tok tokenItem) bool { return tok.Name == "bootstrap" })
	if i < 0 || tokens.Items[i].ExpiresAt == nil || tokens.Items[i].ExpiresAt.Sub(tokens.Items[i].CreatedAt) > 24*time.Hour {
		t.Errorf("tokens = %+v, want the bootstrap token, expiring within 24 hours", tokens.Items)
	}
	var own struct{ Secret string }
	if st := s.call(t, "POST", "/api/v1/tokens", login.Token, map[string]any{"name": "owner's own", "operator": true,
		"scopes": []string{"operator.read", "operator.manage"}}, &own); st != 201 {
		t.Fatalf("the owner's own operator token: %d", st)
	}
	waitFor(t, "the bootstrap token revoked", func() bool { return s.call(t, "GET", "/api/v1/tenants", op, nil, nil) == 401 })
	if st := s.call(t, "GET", "/api/v1/tenants", own.Secret, nil, nil); st != 200 {
		t.Errorf("the owner's own token: %d, want 200", st)
	}

	// A restart makes no second owner and prints no password.
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, data, map[string]string{"SKJOLD_OPERATOR_EMAIL": "owner@fjord-it.example"})
	if strings.Contains(s2.stderr.String(), "one-time password") {
		t.Error("a restart printed a new one-time password")
	}
	var again struct {
		Stage string `json:"stage"`
	}
	body["password"] = "violet-Harbour-crane-47"
	if st := s2.call(t, "POST", "/api/v1/auth/login", "", body, &again); st != 200 || again.Stage != "second_factor" {
		t.Errorf("login after restart: %d, stage %q; want the second factor asked", st, again.Stage)
	}
}
