package main

import (
	"os"
	"path/filepath"
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
	if strings.Count(s.stderr.String(), otp) != 1 {
		t.Errorf("the one-time password should be printed exactly once")
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
