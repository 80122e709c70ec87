package store

import (
	"context"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

var _ skjold.RegisterService = (*DB)(nil)

// remindEvery is how long a reminder of due training lasts before it is repeated.
const remindEvery = 30 * 24 * time.Hour

func entryOf(u *skjold.User, via string, now time.Time) *skjold.RegisterEntry {
	return &skjold.RegisterEntry{UserID: u.ID, Name: u.Name, Email: u.Email, Role: u.Role, Scopes: u.Scopes, Via: via,
		Suspended: u.Suspended, AccessUntil: u.AccessUntil, TrainingAt: u.TrainingAt, AgreementAt: u.AgreementAt,
		TrainingDue: skjold.TrainingDue(u.TrainingAt, now), CreatedAt: u.CreatedAt}
}

// Register lists the people who can reach the caller's tenant's personal data.
func (db *DB) Register(ctx context.Context) ([]*skjold.RegisterEntry, error) {
	c, err := skjold.TenantCaller(ctx)
	if err != nil {
		return nil, err
	}
	users, err := queryAll(ctx, db, scanUser, selectUsers+" WHERE u.tenant_id = ? ORDER BY u.id", c.TenantID)
	if err != nil {
		return nil, err
	}
	now := db.now()
	var out []*skjold.RegisterEntry
	for _, u := range users {
		if skjold.ReachesPersonalData(u.Scopes) {
			out = append(out, entryOf(u, "role", now))
		}
	}
	grants, err := queryAll(ctx, db, scanGrant, selectGrants+" WHERE tenant_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY id",
		c.TenantID, micros(now))
	if err != nil {
		return nil, err
	}
	for _, g := range grants {
		u, err := scanUser(db.queryRow(ctx, selectUsers+" WHERE u.id = ?", g.UserID))
		if err != nil {
			return nil, notFound(err, "user")
		}
		u.Scopes = []string{skjold.ScopeRead}
		out = append(out, entryOf(u, "grant:"+g.ID, now))
	}
	return out, nil
}

// RemindTraining records a reminder for each active person with access whose training is due,
// and e-mails it to the person and to their tenant's (or, for operator staff, the operator's)
// owners and administrators, each in their own language [B15].
func (db *DB) RemindTraining(ctx context.Context) (int, error) {
	now := db.now()
	var due []*skjold.User
	err := db.write(ctx, func(tx *Tx) error {
		due = due[:0] // a retried transaction starts again
		rows, err := tx.query(selectUsers+` WHERE u.suspended = 0 AND (u.training_at IS NULL OR u.training_at <= ?)
			AND (u.training_reminded_at IS NULL OR u.training_reminded_at <= ?)`,
			micros(now.Add(-skjold.TrainingInterval)), micros(now.Add(-remindEvery)))
		if err != nil {
			return err
		}
		users, err := collect(rows, scanUser)
		if err != nil {
			return err
		}
		for _, u := range users {
			if !u.Operator() && !skjold.ReachesPersonalData(u.Scopes) {
				continue // a person who cannot reach personal data needs no such training
			}
			if _, err := tx.exec("UPDATE users SET training_reminded_at = ? WHERE id = ?", micros(now), u.ID); err != nil {
				return err
			}
			tx.audit(&skjold.AuditEvent{Actor: "system:register", TenantID: u.TenantID, Action: "register.training_due",
				Source: "local", Fields: []string{"user:" + u.ID}})
			due = append(due, u)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, u := range due {
		db.mailTrainingDue(ctx, u)
	}
	return len(due), nil
}

// mailTrainingDue e-mails a due training to the person and to the owners and administrators
// of their tenant (the operator's, for operator staff). A failed send is logged without the
// address; the reminder stays recorded in the audit log.
func (db *DB) mailTrainingDue(ctx context.Context, u *skjold.User) {
	if db.auth.Mailer == nil || u.Pending {
		return
	}
	last := ""
	if u.TrainingAt != nil {
		last = u.TrainingAt.UTC().Format("2006-01-02")
	}
	send := func(to *skjold.User, self bool) {
		cat := i18n.Mail(db.userLanguage(ctx, to.ID))
		when := cat.T("mail.training.never")
		if last != "" {
			when = cat.T("mail.training.last", "date", last)
		}
		var body string
		if self {
			body = mailBody(cat.T("mail.training.intro_self", "issuer", db.auth.Issuer), when, cat.T("mail.training.outro_self"))
		} else {
			body = mailBody(cat.T("mail.training.intro_admin", "issuer", db.auth.Issuer, "name", u.Name, "email", u.Email),
				when, cat.T("mail.training.outro_admin"))
		}
		m := skjold.Message{To: to.Email, Subject: cat.T("mail.training.subject", "issuer", db.auth.Issuer), Body: body}
		if err := db.auth.Mailer.Send(ctx, m); err != nil {
			db.log.Error("training reminder not sent", "err", err) // no address: it is personal data
		}
	}
	send(u, true)
	q, args := selectUsers+" WHERE u.tenant_id = ? AND u.suspended = 0 AND u.role IN (?, ?) AND u.id <> ? ORDER BY u.id",
		[]any{u.TenantID, skjold.RoleOwner, skjold.RoleAdmin, u.ID}
	if u.Operator() {
		q, args = selectUsers+" WHERE u.tenant_id IS NULL AND u.suspended = 0 AND u.role IN (?, ?) AND u.id <> ? ORDER BY u.id",
			[]any{skjold.RoleOwner, skjold.RoleAdmin, u.ID}
	}
	admins, err := queryAll(ctx, db, scanUser, q, args...)
	if err != nil {
		db.log.Error("training reminder: administrators not read", "err", err)
		return
	}
	for _, a := range admins {
		if !a.Pending {
			send(a, false)
		}
	}
}
