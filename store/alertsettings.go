package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/skjold-project/skjold"
)

// alertSetting names the operator's alert settings in the settings table (tenant ""); the
// webhook address and secret are sealed under the master key, bound to alertLabel, since
// the address may hold a token and the secret signs what receivers trust.
const (
	alertSetting = "alerts"
	alertLabel   = "alert-webhook"
	alertPrefix  = "skw_"
)

// storedAlerts is the settings row's value.
type storedAlerts struct {
	Emails      []string `json:"emails"`
	Actions     []string `json:"actions"`
	MinSeverity string   `json:"min_severity"`
	Language    string   `json:"language"`
	KeyID       string   `json:"key_id,omitempty"`
	Webhook     []byte   `json:"webhook,omitempty"` // sealed webhookSecret
	UpdatedBy   string   `json:"updated_by"`
	UpdatedAt   int64    `json:"updated_at"`
}

type webhookSecret struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

// AlertConfig returns the stored alert settings with the webhook secret, for the server's
// own dispatcher (no caller is checked: no route reaches it), or nil when none are stored.
func (db *DB) AlertConfig(ctx context.Context) (*skjold.AlertConfig, error) {
	s, err := db.storedAlerts(ctx, func(ctx context.Context, q string, args ...any) scanner { return db.queryRow(ctx, q, args...) })
	if err != nil || s == nil {
		return nil, err
	}
	cfg := &skjold.AlertConfig{AlertSettings: skjold.AlertSettings{Source: skjold.AlertSourceDatabase, Emails: s.Emails,
		Actions: s.Actions, MinSeverity: s.MinSeverity, Language: s.Language, UpdatedBy: s.UpdatedBy}}
	at := fromMicros(s.UpdatedAt)
	cfg.UpdatedAt = &at
	if cfg.Emails == nil {
		cfg.Emails = []string{}
	}
	if len(s.Webhook) > 0 {
		plain, err := db.keys.OpenSecret(alertLabel, alertSetting, s.KeyID, s.Webhook)
		if err != nil {
			return nil, err
		}
		var w webhookSecret
		if err := json.Unmarshal(plain, &w); err != nil {
			return nil, fmt.Errorf("store: sealed alert webhook does not decode: %w", err)
		}
		cfg.WebhookURL, cfg.WebhookSecret, cfg.WebhookSecretSet = w.URL, []byte(w.Secret), true
	}
	return cfg, nil
}

// StoredAlertSettings returns the alert settings an operator owner stored, without the
// secret, or nil when none are. Errors: EFORBIDDEN unless an operator caller with
// operator.read.
func (db *DB) StoredAlertSettings(ctx context.Context) (*skjold.AlertSettings, error) {
	if _, err := operatorWith(ctx, skjold.ScopeOperatorRead); err != nil {
		return nil, err
	}
	cfg, err := db.AlertConfig(ctx)
	if err != nil || cfg == nil {
		return nil, err
	}
	return &cfg.AlertSettings, nil
}

// SetAlertSettings stores the operator's alert settings; see skjold.AlertService. The audit
// event names what changed, never an address or the secret.
func (db *DB) SetAlertSettings(ctx context.Context, u *skjold.AlertSettingsUpdate) (*skjold.AlertSettings, string, error) {
	c, err := operatorWith(ctx, skjold.ScopeOperatorManage)
	if err != nil {
		return nil, "", err
	}
	if err := u.Validate(); err != nil { // the form's own mistakes first: the page shows them to any manager
		return nil, "", err
	}
	if c.Role != skjold.RoleOwner || c.UserID == "" {
		return nil, "", skjold.Errorf(skjold.EFORBIDDEN, "only an operator owner changes the alert settings")
	}
	var secret string
	err = db.write(ctx, func(tx *Tx) error {
		old, err := db.storedAlerts(ctx, func(_ context.Context, q string, args ...any) scanner { return tx.queryRow(q, args...) })
		if err != nil {
			return err
		}
		oldHook := webhookSecret{}
		if old != nil && len(old.Webhook) > 0 {
			plain, err := db.keys.OpenSecret(alertLabel, alertSetting, old.KeyID, old.Webhook)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(plain, &oldHook); err != nil {
				return fmt.Errorf("store: sealed alert webhook does not decode: %w", err)
			}
		}
		now := db.now()
		s := &storedAlerts{Emails: u.Emails, Actions: u.Actions, MinSeverity: u.MinSeverity, Language: u.Language,
			UpdatedBy: c.Actor, UpdatedAt: micros(now)}
		hook := webhookSecret{URL: u.WebhookURL, Secret: oldHook.Secret}
		if u.WebhookURL != "" && (hook.Secret == "" || u.RotateSecret) {
			secret = randomSecret(alertPrefix)
			hook.Secret = secret
		}
		if u.WebhookURL != "" {
			plain, _ := json.Marshal(hook)
			if s.KeyID, s.Webhook, err = db.keys.SealSecret(alertLabel, alertSetting, plain); err != nil {
				return err
			}
		}
		value, err := json.Marshal(s)
		if err != nil {
			return err
		}
		if err := tx.putSetting("", alertSetting, string(value)); err != nil {
			return err
		}
		tx.audit(event(c, "alerts.update", "", "", alertChanges(old, s, oldHook.URL, u.WebhookURL, secret != "")))
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	got, err := db.StoredAlertSettings(ctx)
	return got, secret, err
}

// alertChanges names the settings that changed, for the audit: counts and names, no
// address and no secret.
func alertChanges(old, s *storedAlerts, oldURL, newURL string, newSecret bool) []string {
	if old == nil {
		old = &storedAlerts{}
	}
	var f []string
	if !slices.Equal(old.Emails, s.Emails) {
		f = append(f, fmt.Sprintf("emails:%d", len(s.Emails)))
	}
	switch {
	case oldURL != newURL && newURL == "":
		f = append(f, "webhook_url:removed")
	case oldURL != newURL:
		f = append(f, "webhook_url:changed")
	}
	if newSecret {
		f = append(f, "webhook_secret:new")
	}
	if !slices.Equal(old.Actions, s.Actions) {
		f = append(f, "actions:"+strings.Join(s.Actions, "+"))
	}
	if old.MinSeverity != s.MinSeverity {
		f = append(f, "min_severity:"+s.MinSeverity)
	}
	if old.Language != s.Language {
		f = append(f, "language:"+s.Language)
	}
	if len(f) == 0 {
		f = []string{"unchanged"}
	}
	return f
}

// RecordAlertTest audits a test alert and how each channel took it ("email:ok",
// "webhook:failed"). Errors: EFORBIDDEN unless an operator caller with operator.manage.
func (db *DB) RecordAlertTest(ctx context.Context, results []skjold.AlertDelivery) error {
	c, err := operatorWith(ctx, skjold.ScopeOperatorManage)
	if err != nil {
		return err
	}
	fields := make([]string, 0, len(results))
	for _, r := range results {
		fields = append(fields, r.Channel+":"+map[bool]string{true: "ok", false: "failed"}[r.OK])
	}
	return db.write(ctx, func(tx *Tx) error {
		tx.audit(event(c, "alerts.test", "", "", fields))
		return nil
	})
}

func (db *DB) storedAlerts(ctx context.Context, query func(context.Context, string, ...any) scanner) (*storedAlerts, error) {
	var value string
	err := query(ctx, "SELECT value FROM settings WHERE tenant_id = ? AND name = ?", "", alertSetting).Scan(&value)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, err
	}
	s := &storedAlerts{}
	if err := json.Unmarshal([]byte(value), s); err != nil {
		return nil, fmt.Errorf("store: alert settings do not decode: %w", err)
	}
	return s, nil
}

// operatorWith returns the operator caller of ctx when it holds scope.
func operatorWith(ctx context.Context, scope string) (*skjold.Caller, error) {
	c, err := skjold.OperatorCaller(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Can(scope) {
		return nil, skjold.Errorf(skjold.EFORBIDDEN, "this needs the %q permission", scope)
	}
	return c, nil
}
