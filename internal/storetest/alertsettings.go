package storetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// operatorPerson is the context of an operator staff member of role, logged in.
func (e *env) operatorPerson(role string) context.Context {
	return skjold.NewContextWithCaller(e.t.Context(), &skjold.Caller{Actor: "user:" + role, UserID: "u-" + role, Operator: true,
		Source: "127.0.0.1", Role: role, Scopes: skjold.RoleScopes(true, role)})
}

// TestAlertSettings checks the operator's alert settings: only an owner in person stores
// them, a new webhook secret comes back once and is kept sealed (the address too), bad
// input changes nothing, and the audit names what changed without addresses or secret.
func TestAlertSettings(t *testing.T, h Harness) {
	e := newEnv(t, h)
	owner, admin, support := e.operatorPerson(skjold.RoleOwner), e.operatorPerson(skjold.RoleAdmin), e.operatorPerson(skjold.RoleSupport)
	if s, err := e.db.StoredAlertSettings(support); err != nil || s != nil {
		t.Fatalf("StoredAlertSettings before any = %+v, %v; want nil", s, err)
	}
	if cfg, err := e.db.AlertConfig(t.Context()); err != nil || cfg != nil {
		t.Fatalf("AlertConfig before any = %+v, %v; want nil", cfg, err)
	}
	tn := e.newTenant("Alerting AS")
	_, err := e.db.StoredAlertSettings(e.as(tn, ""))
	wantCode(t, err, skjold.EFORBIDDEN)

	hook := "https://hooks.example.net/skjold?token=sesame"
	u := func() *skjold.AlertSettingsUpdate {
		return &skjold.AlertSettingsUpdate{Emails: []string{"Ops@Example.net", "ops@example.net", "duty@example.net"},
			WebhookURL: hook, Actions: []string{"drill.failed", "backup.failed"}, MinSeverity: skjold.SeverityCritical}
	}
	for name, ctx := range map[string]context.Context{"admin": admin, "support": support, "token": e.staff(), "tenant": e.as(tn, "")} {
		if _, _, err := e.db.SetAlertSettings(ctx, u()); skjold.ErrorCode(err) != skjold.EFORBIDDEN {
			t.Errorf("SetAlertSettings as %s = %v, want EFORBIDDEN", name, err)
		}
	}
	seq := e.lastSeq()
	got, secret, err := e.db.SetAlertSettings(owner, u())
	must(t, err)
	if !strings.HasPrefix(secret, "skw_") || got.Source != skjold.AlertSourceDatabase || !got.WebhookSecretSet ||
		strings.Join(got.Emails, ",") != "ops@example.net,duty@example.net" || strings.Join(got.Actions, ",") != "backup.failed,drill.failed" ||
		got.Language != "en" || got.UpdatedBy != "user:owner" || got.UpdatedAt == nil {
		t.Fatalf("SetAlertSettings = %+v, %q", got, secret)
	}
	cfg, err := e.db.AlertConfig(t.Context())
	must(t, err)
	if string(cfg.WebhookSecret) != secret || cfg.WebhookURL != hook {
		t.Errorf("AlertConfig webhook = %q, %q", cfg.WebhookURL, cfg.WebhookSecret)
	}
	raw := e.raw()
	var value string
	must(t, raw.QueryRow(e.rebind("SELECT value FROM settings WHERE tenant_id = ? AND name = ?"), "", "alerts").Scan(&value))
	for _, plain := range []string{secret, "sesame", "hooks.example.net"} {
		if strings.Contains(value, plain) {
			t.Errorf("the stored settings show %q in clear", plain)
		}
	}
	evs := e.events(seq)
	if len(evs) != 1 || evs[0].Action != "alerts.update" {
		t.Fatalf("audit after SetAlertSettings = %+v", evs)
	}
	fields := strings.Join(evs[0].Fields, " ")
	if !strings.Contains(fields, "emails:2") || !strings.Contains(fields, "webhook_secret:new") || strings.Contains(fields, "example.net") {
		t.Errorf("audit fields = %q", fields)
	}

	// Bad input is refused and changes nothing.
	for field, bad := range map[string]func(*skjold.AlertSettingsUpdate){
		"webhook_url":   func(u *skjold.AlertSettingsUpdate) { u.WebhookURL = "http://hooks.example.net/" },
		"emails":        func(u *skjold.AlertSettingsUpdate) { u.Emails = []string{"nobody"} },
		"actions":       func(u *skjold.AlertSettingsUpdate) { u.Actions = []string{"subject.read"} },
		"min_severity":  func(u *skjold.AlertSettingsUpdate) { u.MinSeverity = "loud" },
		"language":      func(u *skjold.AlertSettingsUpdate) { u.Language = "de" },
		"rotate_secret": func(u *skjold.AlertSettingsUpdate) { u.WebhookURL, u.RotateSecret = "", true },
	} {
		up := u()
		bad(up)
		_, _, err := e.db.SetAlertSettings(owner, up)
		var se *skjold.Error
		if !errors.As(err, &se) || se.Code != skjold.EINVALID || se.Field != field {
			t.Errorf("bad %s: %v", field, err)
		}
	}
	again, err := e.db.AlertConfig(t.Context())
	must(t, err)
	if !bytes.Equal(again.WebhookSecret, cfg.WebhookSecret) || len(again.Emails) != 2 {
		t.Errorf("refused changes changed the settings: %+v", again.AlertSettings)
	}

	// Saving again keeps the secret; rotating makes a new one; no webhook, no secret.
	if _, s2, err := e.db.SetAlertSettings(owner, u()); err != nil || s2 != "" {
		t.Errorf("saving again = %q, %v; want the old secret kept", s2, err)
	}
	up := u()
	up.RotateSecret = true
	_, s3, err := e.db.SetAlertSettings(owner, up)
	must(t, err)
	if s3 == "" || s3 == secret {
		t.Errorf("rotated secret = %q", s3)
	}
	up = u()
	up.WebhookURL = ""
	got, _, err = e.db.SetAlertSettings(owner, up)
	must(t, err)
	if cfg, _ := e.db.AlertConfig(t.Context()); got.WebhookSecretSet || cfg.WebhookSecret != nil || cfg.WebhookURL != "" {
		t.Errorf("without a webhook: %+v", cfg)
	}

	wantCode(t, e.db.RecordAlertTest(support, nil), skjold.EFORBIDDEN)
	seq = e.lastSeq()
	must(t, e.db.RecordAlertTest(admin, []skjold.AlertDelivery{{Channel: "email", OK: true}, {Channel: "webhook"}}))
	if evs := e.events(seq); len(evs) != 1 || evs[0].Action != "alerts.test" || strings.Join(evs[0].Fields, ",") != "email:ok,webhook:failed" {
		t.Errorf("audit of a test alert = %+v", evs)
	}
}
