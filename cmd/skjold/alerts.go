package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/alert"
)

// newAlerts builds the alert dispatcher from the configuration: one rule, for the
// configured actions, to the alert e-mail address and/or webhook. Without either, alerts
// are off and the returned dispatcher is nil (Notify and Run do nothing).
func newAlerts(cfg Config, mailer skjold.Mailer, log *slog.Logger) (*alert.Dispatcher, error) {
	rule := alert.Rule{Actions: alert.DefaultActions, Language: cfg.AlertLanguage}
	if rule.Language != "" && !skjold.ValidLanguage(rule.Language) {
		return nil, fmt.Errorf("alert_language: must be one of %s", strings.Join(skjold.Languages, ", "))
	}
	if strings.TrimSpace(cfg.AlertActions) != "" {
		rule.Actions = nil
		for _, a := range strings.Split(cfg.AlertActions, ",") {
			rule.Actions = append(rule.Actions, strings.TrimSpace(a))
		}
	}
	if cfg.AlertEmail != "" {
		email, err := skjold.NormalizeEmail("alert_email", cfg.AlertEmail)
		if err != nil {
			return nil, fmt.Errorf("alert_email: %s", skjold.ErrorMessage(err))
		}
		rule.Email = email
	}
	if cfg.AlertWebhookURL != "" {
		rule.Webhook = &alert.Webhook{URL: cfg.AlertWebhookURL, Secret: []byte(cfg.AlertWebhookSecret)}
		if err := rule.Webhook.Validate(); err != nil {
			return nil, fmt.Errorf("alert webhook: %s", skjold.ErrorMessage(err))
		}
	}
	if rule.Email == "" && rule.Webhook == nil {
		return nil, nil
	}
	return alert.NewDispatcher([]alert.Rule{rule}, mailer, log), nil
}
