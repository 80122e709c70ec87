package store

import (
	"context"
	"time"

	"github.com/skjold-project/skjold"
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

// RemindTraining records a reminder for each active person with access whose training is due.
func (db *DB) RemindTraining(ctx context.Context) (int, error) {
	now := db.now()
	n := 0
	err := db.write(ctx, func(tx *Tx) error {
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
			n++
		}
		return nil
	})
	return n, err
}
