package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/skjold-project/skjold"
)

// runUserResetTwoFactor is the break-glass way back for a sole owner who lost their
// authenticator and recovery codes: on the server's own machine, with its data directory and
// master key, it removes the user's second factor, audits it and e-mails every operator owner.
func runUserResetTwoFactor(ctx context.Context, e env, args []string) error {
	flags := newFlagSet(e, "user reset-two-factor USER", "Break glass: remove the second factor (TOTP and recovery codes) of USER, an id or an\n"+
		"e-mail address, and end their sessions; they log in with their password and enrol anew.\n"+
		"For a sole owner locked out with nobody to approve a reset in the console. It runs only on\n"+
		"the server's machine, with the data directory and the master key file; it is audited\n"+
		"(auth.2fa_reset, via:break_glass) and every operator owner is e-mailed.")
	load := configFlags(flags, e.getenv)
	breakGlass := flags.Bool("break-glass", false, "required: confirms that this bypasses the console's four-eyes reset")
	tenantID := flags.String("tenant", "", "the tenant the user belongs to; empty for the operator's staff")
	asJSON := jsonFlag(flags)
	user, err := parseWithArg(e, flags, args, "give one user: an id or an e-mail address")
	if err != nil {
		return err
	}
	if !*breakGlass {
		return usagef("resetting a second factor from the command line needs --break-glass (in the console, a second person approves a reset)")
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if fi, err := os.Stat(cfg.Data); err != nil || !fi.IsDir() {
		return fmt.Errorf("break glass works only on the server's machine: no data directory at %s", cfg.Data)
	}
	if _, err := os.Stat(cfg.keyFile()); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("break glass works only on the server's machine: no master key file at %s", cfg.keyFile())
	}
	db, _, err := openStore(ctx, cfg, newLogger(e.stderr, cfg.logLevel()).With("component", "store"), nil)
	if err != nil {
		return err
	}
	defer db.Close()
	u, err := db.BreakGlassResetTwoFactor(cliContext(ctx), *tenantID, user)
	if err != nil {
		return err
	}
	alerted, alertErr := alertOperatorOwners(ctx, cfg, allOwners(ctx, db), u)
	if *asJSON {
		if err := printJSON(e.stdout, map[string]any{"user": u.ID, "tenant": u.TenantID, "reset": true, "owners_alerted": alerted}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "second factor of user %s removed and their sessions ended; %d operator owner(s) alerted\n", u.ID, alerted)
	}
	if alertErr != nil {
		return fmt.Errorf("the second factor was removed, but alerting the operator owners failed: %w", alertErr)
	}
	return nil
}

// allOwners returns the addresses of the operator's confirmed, unsuspended owners.
func allOwners(ctx context.Context, db interface {
	FindUsers(context.Context, skjold.Page) ([]*skjold.User, error)
}) func() ([]string, error) {
	return func() ([]string, error) {
		staff, err := allPages(ownerContext(ctx), db.FindUsers, func(u *skjold.User) string { return u.ID })
		if err != nil {
			return nil, err
		}
		var to []string
		for _, s := range staff {
			if s.Role == skjold.RoleOwner && !s.Pending && !s.Suspended {
				to = append(to, s.Email)
			}
		}
		return to, nil
	}
}

// alertOperatorOwners e-mails every operator owner that a break-glass reset happened; the
// message names the user by id, not by address. It returns how many were sent.
func alertOperatorOwners(ctx context.Context, cfg Config, owners func() ([]string, error), u *skjold.User) (int, error) {
	to, err := owners()
	if err != nil {
		return 0, err
	}
	mailer, err := newMailer(cfg)
	if err != nil {
		return 0, err
	}
	whose := "a member of the operator's staff"
	if u.TenantID != "" {
		whose = "a user of tenant " + u.TenantID
	}
	body := fmt.Sprintf("The second factor of user %s (%s, role %s) was removed at %s with the break-glass\n"+
		"command \"skjold user reset-two-factor --break-glass\" on the server's own machine, and their\n"+
		"sessions were ended. The audit log records it as auth.2fa_reset (via:break_glass).\n\n"+
		"If nobody you know did this, someone has access to the server and its master key:\n"+
		"treat it as a security incident.\n", u.ID, whose, u.Role, time.Now().UTC().Format(time.RFC3339))
	var errs []error
	sent := 0
	for _, addr := range to {
		if err := mailer.Send(ctx, skjold.Message{To: addr, Subject: "Skjold: a second factor was reset with break-glass", Body: body}); err != nil {
			errs = append(errs, err)
			continue
		}
		sent++
	}
	return sent, errors.Join(errs...)
}
