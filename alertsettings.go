package skjold

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Alert severities, lowest first [F1]. An operator chooses the lowest one that alerts.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Severities lists the alert severities, lowest first.
var Severities = []string{SeverityInfo, SeverityWarning, SeverityCritical}

// alertSeverities gives each audit action that may raise an alert its severity: critical
// when data or the ability to restore it is at stake or an attack is under way, warning
// when a person should look soon, info for changes worth knowing about.
var alertSeverities = map[string]string{
	"backup.failed": SeverityCritical, "backup.copy_failed": SeverityCritical, "backup.corrupt": SeverityCritical,
	"backup.rotation_refused": SeverityCritical, "backup.stalled": SeverityCritical, "drill.failed": SeverityCritical, "tenant.key_destroy": SeverityCritical,
	"erasure.purge_blocked": SeverityCritical, "security.ban": SeverityCritical, "auth.lockout": SeverityCritical,
	"security.read_budget": SeverityCritical, "auth.recovery_code_used": SeverityCritical,
	"incident.overdue": SeverityCritical,

	"security.denied_address": SeverityWarning, "auth.2fa_reset": SeverityWarning, "auth.password_reset": SeverityWarning,
	"user.suspend": SeverityWarning, "tenant.freeze": SeverityWarning, "tenant.freeze_lapsed": SeverityWarning,
	"tenant.terminate": SeverityWarning, "request.overdue": SeverityWarning, "approval.rejected": SeverityWarning,
	"security.blocklist": SeverityWarning, "security.unban": SeverityWarning, "grant.create": SeverityWarning,
	"settings.update": SeverityWarning, "alerts.update": SeverityWarning,
	"incident.create": SeverityWarning, "incident.deadline_near": SeverityWarning,

	"auth.2fa_enabled": SeverityInfo, "user.create": SeverityInfo, "user.update": SeverityInfo,
	"approval.approved": SeverityInfo, "alerts.test": SeverityInfo,
}

// AlertActions lists the audit actions an operator may choose to alert on, sorted.
func AlertActions() []string {
	out := make([]string, 0, len(alertSeverities))
	for a := range alertSeverities {
		if a != "alerts.test" { // a test alert is always sent when asked for
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// AlertSeverity returns the severity of an audit action's alert; an action Skjold does not
// rank (one named only in a configuration file) counts as a warning.
func AlertSeverity(action string) string {
	if s, ok := alertSeverities[action]; ok {
		return s
	}
	return SeverityWarning
}

// SeverityAtLeast reports whether severity s reaches min ("" counts as info).
func SeverityAtLeast(s, min string) bool {
	return slices.Index(Severities, s) >= slices.Index(Severities, orDefault(min, SeverityInfo))
}

func orDefault(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// Where alert settings come from: the operator's console or API (stored in the database),
// else the configuration file, else nowhere (alerts are off).
const (
	AlertSourceDatabase = "database"
	AlertSourceConfig   = "config"
	AlertSourceNone     = "none"
)

// MaxAlertRecipients bounds the alert e-mail list.
const MaxAlertRecipients = 20

// AlertSettings say where the operator's security alerts go and which raise one [F1]. The
// webhook secret is never part of them: it is shown once, when made.
type AlertSettings struct {
	Source           string     `json:"source"` // AlertSourceDatabase, AlertSourceConfig or AlertSourceNone
	Emails           []string   `json:"emails"`
	WebhookURL       string     `json:"webhook_url"`
	WebhookSecretSet bool       `json:"webhook_secret_set"`
	Actions          []string   `json:"actions"`
	MinSeverity      string     `json:"min_severity"`
	Language         string     `json:"language"` // language of the alert e-mails
	UpdatedAt        *time.Time `json:"updated_at,omitempty"`
	UpdatedBy        string     `json:"updated_by,omitempty"`
}

// AlertConfig is AlertSettings with the webhook secret, for the dispatcher only.
type AlertConfig struct {
	AlertSettings
	WebhookSecret []byte
}

// AlertSettingsUpdate is what an operator owner sets. A webhook gets a new secret when it is
// first set or when RotateSecret asks for one; removing the webhook URL removes the secret.
type AlertSettingsUpdate struct {
	Emails       []string `json:"emails"`
	WebhookURL   string   `json:"webhook_url"`
	Actions      []string `json:"actions"`
	MinSeverity  string   `json:"min_severity"`
	Language     string   `json:"language"`
	RotateSecret bool     `json:"rotate_secret"`
}

// Validate normalises the update (e-mail addresses, empty severity and language) and checks
// it. Errors: EINVALID FieldErrors for emails, webhook_url, actions, min_severity, language
// and rotate_secret.
func (u *AlertSettingsUpdate) Validate() error {
	if len(u.Emails) > MaxAlertRecipients {
		return FieldError("emails", "count", "at most %d alert recipients", MaxAlertRecipients)
	}
	emails := make([]string, 0, len(u.Emails))
	for _, e := range u.Emails {
		if strings.TrimSpace(e) == "" {
			continue
		}
		n, err := NormalizeEmail("emails", e)
		if err != nil {
			return err
		}
		if !slices.Contains(emails, n) {
			emails = append(emails, n)
		}
	}
	u.Emails = emails
	u.WebhookURL = strings.TrimSpace(u.WebhookURL)
	if u.WebhookURL != "" {
		p, err := url.Parse(u.WebhookURL)
		if err != nil || p.Scheme != "https" || p.Host == "" || p.User != nil || len(u.WebhookURL) > 2000 {
			// The address may hold a token: it is not quoted back.
			return FieldError("webhook_url", "https", "the webhook URL must be an https:// address without user information")
		}
	} else if u.RotateSecret {
		return FieldError("rotate_secret", "webhook", "there is no webhook whose secret could be renewed")
	}
	for _, a := range u.Actions {
		if _, ok := alertSeverities[a]; !ok || a == "alerts.test" {
			return FieldError("actions", "known", "unknown alert action; choose from %s", strings.Join(AlertActions(), ", "))
		}
	}
	if len(u.Actions) == 0 {
		return FieldError("actions", "required", "choose at least one event that raises an alert")
	}
	u.Actions = slices.Compact(slices.Sorted(slices.Values(u.Actions)))
	u.MinSeverity = orDefault(u.MinSeverity, SeverityInfo)
	if !slices.Contains(Severities, u.MinSeverity) {
		return FieldError("min_severity", "oneof", "the minimum severity must be one of %s", strings.Join(Severities, ", "))
	}
	u.Language = orDefault(u.Language, Languages[0])
	if !ValidLanguage(u.Language) {
		return FieldError("language", "oneof", "the language must be one of %s", strings.Join(Languages, ", "))
	}
	return nil
}

// AlertDelivery is how a test alert went on one channel.
type AlertDelivery struct {
	Channel string `json:"channel"` // "email" or "webhook"
	Target  string `json:"target"`  // the e-mail address, or the webhook's host
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// AlertService keeps the operator's alert settings and sends test alerts.
type AlertService interface {
	// AlertSettings returns the settings in force: those stored by an operator owner, else
	// the configuration file's (Source says which). Errors: EFORBIDDEN unless an operator
	// caller with operator.read.
	AlertSettings(ctx context.Context) (*AlertSettings, error)

	// SetAlertSettings stores the settings, which replace the configuration file's from now
	// on, and returns them with the new webhook secret ("" when it did not change), which is
	// never shown again. Errors: EFORBIDDEN unless an operator owner in person; EINVALID.
	SetAlertSettings(ctx context.Context, u *AlertSettingsUpdate) (*AlertSettings, string, error)

	// TestAlert sends a test alert now to every recipient and the webhook of the settings in
	// force, and returns how each delivery went. Errors: EFORBIDDEN unless an operator caller
	// with operator.manage; ECONFLICT when alerts go nowhere.
	TestAlert(ctx context.Context) ([]AlertDelivery, error)
}
