package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// bootstrapTokenLife is how long the first start's operator token works at most: long
// enough to set up the first tenants, short enough that a copy in a log or a backup of the
// data directory soon opens nothing.
const bootstrapTokenLife = 24 * time.Hour

// showSecret tells the operator about a secret made at first start: the secret itself only
// when w is a terminal, else only the file that holds it, so that it never lands in journald,
// container logs or a redirected file.
func showSecret(w io.Writer, what, secret, path, next string) {
	if isTerminal(w) {
		fmt.Fprintf(w, "\n*************************************************************\n"+
			"Skjold created %s. It is shown only this once:\n\n    %s\n\n"+
			"It is also in %s (mode 0600).\n%s\n"+
			"*************************************************************\n\n", what, secret, path, next)
		return
	}
	fmt.Fprintf(w, "Skjold created %s; read it from %s (mode 0600). %s\n", what, path, next)
}

// isTerminal reports whether w is a terminal: a character device other than /dev/null.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}

// checkPrivate refuses a file or directory that group or others may access: the data
// directory and the TLS key, as for the master key.
func checkPrivate(path, what, fix string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s %s is accessible by group or others (mode %v); run %s on it", what, path, fi.Mode().Perm(), fix)
	}
	return nil
}

// bootstrapSecrets retires the first start's secrets once they have served: the operator
// owner's one-time password file when the owner replaces the password, and the bootstrap
// operator token when an operator person creates an operator token of their own (it
// expires after bootstrapTokenLife anyway). It watches the audit events (Notify).
type bootstrapSecrets struct {
	log    *slog.Logger
	revoke func(id string) error

	mu           sync.Mutex
	passwordFile string // "" once deleted, or when there is none
	ownerID      string // the operator owner the file was made for
	tokenID      string // the live bootstrap token; "" when there is none
}

// load finds what is left of the first start's secrets: it deletes a password file whose
// owner has already changed the password, revokes a bootstrap token made before tokens
// expired once it is older than bootstrapTokenLife, and remembers the rest for Notify.
func (b *bootstrapSecrets) load(ctx context.Context, cfg Config, db *store.DB, log *slog.Logger) error {
	b.log = log.With("component", "bootstrap")
	b.revoke = func(id string) error { return db.RevokeToken(ownerContext(context.Background()), id) }
	owner, token, err := findBootstrap(ownerContext(ctx), cfg, db)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	path := filepath.Join(cfg.Data, "initial-operator-password")
	if _, err := os.Stat(path); err == nil {
		b.passwordFile = path
		switch {
		case owner == nil: // operator_email no longer names the owner: keep the file
		case !owner.MustChangePassword:
			b.forgetPassword()
		default:
			b.ownerID = owner.ID
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if token == nil {
		return nil
	}
	if token.ExpiresAt == nil && time.Since(token.CreatedAt) > bootstrapTokenLife {
		b.log.Warn("bootstrap operator token made before tokens expired; revoked", "token", token.ID)
		return b.revoke(token.ID)
	}
	b.tokenID = token.ID
	return nil
}

// findBootstrap returns the operator owner named by operator_email and the live bootstrap
// operator token; either is nil when there is none.
func findBootstrap(ctx context.Context, cfg Config, db *store.DB) (*skjold.User, *skjold.Token, error) {
	var owner *skjold.User
	users, err := db.FindUsers(ctx, skjold.Page{Limit: skjold.MaxPageLimit})
	if err != nil {
		return nil, nil, err
	}
	for _, u := range users {
		if strings.EqualFold(u.Email, strings.TrimSpace(cfg.OperatorEmail)) {
			owner = u
		}
	}
	for page := (skjold.Page{Limit: skjold.MaxPageLimit}); ; {
		tokens, err := db.FindTokens(ctx, page)
		if err != nil {
			return nil, nil, err
		}
		for _, t := range tokens {
			live := t.RevokedAt == nil && (t.ExpiresAt == nil || t.ExpiresAt.After(time.Now()))
			if t.Operator && t.Name == "bootstrap" && live {
				return owner, t, nil
			}
		}
		if len(tokens) < page.Limit {
			return owner, nil, nil
		}
		page.After = tokens[len(tokens)-1].ID
	}
}

// Notify acts on one committed audit event; it does not block: a revocation runs apart.
func (b *bootstrapSecrets) Notify(e *skjold.AuditEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case e.TenantID != "":
	case (e.Action == "auth.password_changed" || e.Action == "auth.password_reset") &&
		b.ownerID != "" && e.Actor == "user:"+b.ownerID:
		b.forgetPassword()
	case e.Action == "token.create" && b.tokenID != "" && strings.HasPrefix(e.Actor, "user:"):
		id := b.tokenID
		b.tokenID = ""
		go func() {
			if err := b.revoke(id); err != nil {
				b.log.Error("bootstrap operator token not revoked; it expires by itself", "err", err)
				return
			}
			b.log.Info("bootstrap operator token revoked: an operator person made a token of their own")
		}()
	}
}

// forgetPassword deletes the one-time password file; b.mu is held.
func (b *bootstrapSecrets) forgetPassword() {
	if err := os.Remove(b.passwordFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		b.log.Error("initial-operator-password not deleted; delete it by hand", "err", err)
		return
	}
	b.log.Info("initial-operator-password deleted: the one-time password has been replaced")
	b.passwordFile, b.ownerID = "", ""
}
