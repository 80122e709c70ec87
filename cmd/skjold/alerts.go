package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/alert"
)

// alertFallback reads the configuration file's alert settings: the configured actions (or
// the default list) to the alert e-mail address and/or webhook. They are in force until an
// operator owner stores settings in the console or the API, which then win. Without an
// address or webhook the source is AlertSourceNone (alerts are off).
func alertFallback(cfg Config) (*skjold.AlertConfig, error) {
	fb := &skjold.AlertConfig{AlertSettings: skjold.AlertSettings{Source: skjold.AlertSourceConfig, Emails: []string{},
		Actions: alert.DefaultActions, MinSeverity: skjold.SeverityInfo, Language: cfg.AlertLanguage}}
	if fb.Language != "" && !skjold.ValidLanguage(fb.Language) {
		return nil, fmt.Errorf("alert_language: must be one of %s", strings.Join(skjold.Languages, ", "))
	}
	if fb.Language == "" {
		fb.Language = skjold.Languages[0]
	}
	if strings.TrimSpace(cfg.AlertActions) != "" {
		fb.Actions = nil
		for _, a := range strings.Split(cfg.AlertActions, ",") {
			fb.Actions = append(fb.Actions, strings.TrimSpace(a))
		}
	}
	if cfg.AlertEmail != "" {
		email, err := skjold.NormalizeEmail("alert_email", cfg.AlertEmail)
		if err != nil {
			return nil, fmt.Errorf("alert_email: %s", skjold.ErrorMessage(err))
		}
		fb.Emails = []string{email}
	}
	if cfg.AlertWebhookURL != "" {
		w := &alert.Webhook{URL: cfg.AlertWebhookURL, Secret: []byte(cfg.AlertWebhookSecret)}
		if err := w.Validate(); err != nil {
			return nil, fmt.Errorf("alert webhook: %s", skjold.ErrorMessage(err))
		}
		fb.WebhookURL, fb.WebhookSecret, fb.WebhookSecretSet = w.URL, w.Secret, true
	}
	if len(fb.Emails) == 0 && fb.WebhookURL == "" {
		fb.Source = skjold.AlertSourceNone
	}
	return fb, nil
}

// newAlerts builds the alert dispatcher with the configuration file's rules; serve then
// hands it to an alert.Service, which replaces them with the stored settings when there are.
func newAlerts(cfg Config, mailer skjold.Mailer, log *slog.Logger) (*alert.Dispatcher, error) {
	fb, err := alertFallback(cfg)
	if err != nil {
		return nil, err
	}
	d := alert.NewDispatcher(nil, mailer, log)
	d.SetRules(alert.NewService(nil, fb, mailer, d, log).Rules(fb))
	return d, nil
}
