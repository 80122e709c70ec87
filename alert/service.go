package alert

import (
	"context"
	"log/slog"
	"net/url"
	"time"

	"github.com/skjold-project/skjold"
)

// Store keeps the alert settings an operator owner sets in the console or the API.
type Store interface {
	// AlertConfig returns the stored settings with the webhook secret, or nil when none are.
	AlertConfig(ctx context.Context) (*skjold.AlertConfig, error)
	// StoredAlertSettings returns the stored settings for an operator reader, or nil.
	StoredAlertSettings(ctx context.Context) (*skjold.AlertSettings, error)
	SetAlertSettings(ctx context.Context, u *skjold.AlertSettingsUpdate) (*skjold.AlertSettings, string, error)
	RecordAlertTest(ctx context.Context, results []skjold.AlertDelivery) error
}

// ReloadEvery is how often a Service reads the stored settings again, so that a change made
// through another node sharing the database reaches this one's dispatcher.
const ReloadEvery = time.Minute

// Service is the skjold.AlertService: settings from the database when an operator owner set
// them, else from the configuration file (the fallback), applied to the dispatcher at once.
type Service struct {
	store    Store
	fallback *skjold.AlertConfig
	mailer   skjold.Mailer
	d        *Dispatcher
	log      *slog.Logger
	client   func(*Webhook) // test hook: lets tests give webhooks their own client
}

// NewService returns the service; fallback holds the configuration file's settings (Source
// AlertSourceConfig, or AlertSourceNone when it configures no alerts).
func NewService(store Store, fallback *skjold.AlertConfig, mailer skjold.Mailer, d *Dispatcher, log *slog.Logger) *Service {
	return &Service{store: store, fallback: fallback, mailer: mailer, d: d, log: log.With("component", "alert")}
}

// WithWebhookClient makes every webhook the service builds use client (tests).
func (s *Service) WithWebhookClient(client func(*Webhook)) *Service { s.client = client; return s }

// config returns the settings in force with the secret.
func (s *Service) config(ctx context.Context) (*skjold.AlertConfig, error) {
	cfg, err := s.store.AlertConfig(ctx)
	if err != nil || cfg != nil {
		return cfg, err
	}
	return s.fallback, nil
}

// Reload applies the settings in force to the dispatcher.
func (s *Service) Reload(ctx context.Context) error {
	cfg, err := s.config(ctx)
	if err != nil {
		return err
	}
	s.d.SetRules(s.Rules(cfg))
	return nil
}

// Run reloads the settings every ReloadEvery until ctx ends; a failed read keeps the rules
// in force and is logged.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(ReloadEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.Reload(ctx); err != nil {
				s.log.Error("alert settings not reloaded", "err", err)
			}
		}
	}
}

// Rules turns settings into dispatcher rules: one per recipient, one for the webhook, each
// for the chosen actions that reach the minimum severity.
func (s *Service) Rules(cfg *skjold.AlertConfig) []Rule {
	if cfg == nil {
		return nil
	}
	var actions []string
	for _, a := range cfg.Actions {
		if skjold.SeverityAtLeast(skjold.AlertSeverity(a), cfg.MinSeverity) {
			actions = append(actions, a)
		}
	}
	var rules []Rule
	for _, e := range cfg.Emails {
		rules = append(rules, Rule{Actions: actions, Email: e, Language: cfg.Language})
	}
	if w := s.webhook(cfg); w != nil {
		rules = append(rules, Rule{Actions: actions, Webhook: w})
	}
	return rules
}

func (s *Service) webhook(cfg *skjold.AlertConfig) *Webhook {
	if cfg.WebhookURL == "" {
		return nil
	}
	w := &Webhook{URL: cfg.WebhookURL, Secret: cfg.WebhookSecret}
	if s.client != nil {
		s.client(w)
	}
	return w
}

// AlertSettings implements skjold.AlertService.
func (s *Service) AlertSettings(ctx context.Context) (*skjold.AlertSettings, error) {
	got, err := s.store.StoredAlertSettings(ctx)
	if err != nil || got != nil {
		return got, err
	}
	fb := s.fallback.AlertSettings
	fb.Emails, fb.Actions = append([]string{}, fb.Emails...), append([]string{}, fb.Actions...)
	if fb.MinSeverity == "" {
		fb.MinSeverity = skjold.SeverityInfo
	}
	if fb.Language == "" {
		fb.Language = skjold.Languages[0]
	}
	return &fb, nil
}

// SetAlertSettings implements skjold.AlertService and applies the new settings at once.
func (s *Service) SetAlertSettings(ctx context.Context, u *skjold.AlertSettingsUpdate) (*skjold.AlertSettings, string, error) {
	got, secret, err := s.store.SetAlertSettings(ctx, u)
	if err != nil {
		return nil, "", err
	}
	if err := s.Reload(ctx); err != nil {
		s.log.Error("alert settings not applied", "err", err) // stored; the next reload applies them
	}
	return got, secret, nil
}

// TestAlert implements skjold.AlertService: it delivers now, once per channel, and says how.
func (s *Service) TestAlert(ctx context.Context) ([]skjold.AlertDelivery, error) {
	if _, err := skjold.OperatorCaller(ctx); err != nil {
		return nil, err
	}
	if c := skjold.CallerFromContext(ctx); !c.Can(skjold.ScopeOperatorManage) {
		return nil, skjold.Errorf(skjold.EFORBIDDEN, "this needs the %q permission", skjold.ScopeOperatorManage)
	}
	cfg, err := s.config(ctx)
	if err != nil {
		return nil, err
	}
	if cfg == nil || (len(cfg.Emails) == 0 && cfg.WebhookURL == "") {
		return nil, skjold.Errorf(skjold.ECONFLICT, "alerts go nowhere: set a recipient or a webhook first")
	}
	c := skjold.CallerFromContext(ctx)
	a := Alert{Action: "alerts.test", Time: time.Now().UTC(), Actor: c.Actor, Fields: []string{"test"}, Source: c.Source}
	var out []skjold.AlertDelivery
	for _, e := range cfg.Emails {
		d := skjold.AlertDelivery{Channel: "email", Target: e, OK: true}
		if err := s.mailer.Send(ctx, message(e, cfg.Language, a)); err != nil {
			s.log.Error("test alert not delivered", "channel", "email", "err", err)
			d.OK, d.Error = false, "the mail relay did not take the message"
		}
		out = append(out, d)
	}
	if w := s.webhook(cfg); w != nil {
		d := skjold.AlertDelivery{Channel: "webhook", OK: true}
		if u, err := url.Parse(w.URL); err == nil {
			d.Target = u.Host // the path or query may hold a token
		}
		if err := w.Send(ctx, a); err != nil {
			d.OK, d.Error = false, skjold.ErrorMessage(err) // the webhook's errors never quote the URL
		}
		out = append(out, d)
	}
	if err := s.store.RecordAlertTest(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}
