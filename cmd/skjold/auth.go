package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/mail"
	"github.com/skjold-project/skjold/netguard"
	"github.com/skjold-project/skjold/password"
	"github.com/skjold-project/skjold/store"
	"github.com/skjold-project/skjold/totp"
)

// authOptions builds what logins need: the argon2id hasher, the password checker (with the
// breached-password check when an API is configured), TOTP, and the mailer — the SMTP relay,
// or the outbox directory when none is configured.
func authOptions(cfg Config) (store.AuthOptions, error) {
	hasher, err := newHasher(cfg)
	if err != nil {
		return store.AuthOptions{}, err
	}
	var breach *password.BreachChecker
	if cfg.BreachAPIURL != "" {
		breach = password.NewBreachChecker(cfg.BreachAPIURL, &http.Client{Timeout: 5 * time.Second})
	}
	mailer, err := newMailer(cfg)
	if err != nil {
		return store.AuthOptions{}, err
	}
	texts, err := newSMS(cfg)
	if err != nil {
		return store.AuthOptions{}, err
	}
	return store.AuthOptions{Hasher: hasher, Checker: password.NewChecker(breach), OTP: totp.TOTP{}, Mailer: mailer,
		SMS: texts, ResetURL: cfg.publicURL() + "/console/reset#token="}, nil
}

// newHasher returns the argon2id hasher with password_checks slots, of which one source may
// hold password_checks_per_source [B11]. A source is the client address the request guard
// resolved, IPv6 ones by the same prefix as bans; requests without one (the command line)
// are not bounded.
func newHasher(cfg Config) (*password.Hasher, error) {
	total, perSource, err := cfg.passwordChecks()
	if err != nil {
		return nil, err
	}
	bits, err := cfg.banIPv6Prefix()
	if err != nil {
		return nil, err
	}
	h, err := password.NewHasher(password.DefaultParams, total)
	if err != nil {
		return nil, err
	}
	if perSource == 0 {
		perSource = max(1, h.Slots()/2)
	}
	return h, h.LimitPerSource(perSource, func(ctx context.Context) string {
		c := skjold.CallerFromContext(ctx)
		if c == nil {
			return ""
		}
		a, err := netip.ParseAddr(c.Source)
		if err != nil {
			return ""
		}
		return netguard.Source(a, bits).String()
	})
}

func newMailer(cfg Config) (skjold.Mailer, error) {
	if cfg.SMTPHost == "" {
		return mail.NewOutbox(filepath.Join(cfg.Data, "outbox"), cfg.SMTPFrom)
	}
	var tlsConfig *tls.Config
	if cfg.SMTPCAFile != "" {
		pem, err := os.ReadFile(cfg.SMTPCAFile)
		if err != nil {
			return nil, fmt.Errorf("smtp_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("smtp_ca_file %s holds no PEM certificate", cfg.SMTPCAFile)
		}
		tlsConfig = &tls.Config{RootCAs: pool}
	}
	m, err := mail.NewSMTP(mail.SMTPConfig{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername,
		Password: cfg.SMTPPassword, From: cfg.SMTPFrom, TLSConfig: tlsConfig})
	if err != nil {
		return nil, fmt.Errorf("smtp: %s", skjold.ErrorMessage(err))
	}
	return m, nil
}

// publicURL is where people reach the server, for links in e-mails.
func (c *Config) publicURL() string {
	if c.PublicURL != "" {
		return strings.TrimSuffix(c.PublicURL, "/")
	}
	return "https://" + c.Addr
}

// bootstrapOwner makes the first operator owner on a database without operator staff: its
// one-time password is written to <data>/initial-operator-password (mode 0600) and shown once
// on a terminal; the first login must replace it (bootstrapSecrets then deletes the file) and
// enrol a second factor.
func bootstrapOwner(ctx context.Context, e env, cfg Config, db *store.DB) error {
	users, err := db.FindUsers(ownerContext(ctx), skjold.Page{Limit: 1})
	if err != nil || len(users) > 0 {
		return err
	}
	u := &skjold.User{Email: cfg.OperatorEmail, Name: "Operator owner", Role: skjold.RoleOwner}
	pw, err := db.CreateUser(ownerContext(ctx), u)
	if err != nil {
		return fmt.Errorf("create the operator owner: %w", err)
	}
	path := filepath.Join(cfg.Data, "initial-operator-password")
	if err := writeFileAtomic(path, []byte(pw+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	showSecret(e.stderr, "the operator owner account "+u.Email+" with a one-time password", pw, path,
		"The first login must change it (which deletes the file) and enrol a second factor (TOTP).")
	return nil
}

// ownerContext is the command line acting as the operator's owner: it sets up the first
// account, which nobody else could.
func ownerContext(ctx context.Context) context.Context {
	return skjold.NewContextWithCaller(ctx, &skjold.Caller{Actor: "cli", Operator: true, Source: "local", Local: true,
		Role: skjold.RoleOwner, Scopes: skjold.RoleScopes(true, skjold.RoleOwner)})
}
