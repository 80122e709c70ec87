package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

const selectMaintenance = "SELECT id, starts_at, ends_at, note, created_at, announced_at FROM maintenance"

func scanMaintenance(s scanner) (*skjold.Maintenance, error) {
	var m skjold.Maintenance
	var starts, ends, created int64
	var announced sql.NullInt64
	err := s.Scan(&m.ID, &starts, &ends, &m.Note, &created, &announced)
	m.Starts, m.Ends, m.CreatedAt, m.AnnouncedAt = fromMicros(starts), fromMicros(ends), fromMicros(created), optTime(announced)
	return &m, err
}

// ScheduleMaintenance stores a maintenance window; the announcement job e-mails the owners.
func (db *DB) ScheduleMaintenance(ctx context.Context, m *skjold.Maintenance) error {
	c, err := skjold.OperatorCaller(ctx)
	if err != nil {
		return err
	}
	now := db.now()
	if err := m.Validate(now); err != nil {
		return err
	}
	m.ID, m.CreatedAt, m.AnnouncedAt = newID(), now, nil
	m.Starts, m.Ends = m.Starts.UTC().Truncate(time.Microsecond), m.Ends.UTC().Truncate(time.Microsecond)
	return db.write(ctx, func(tx *Tx) error {
		if _, err := tx.exec("INSERT INTO maintenance (id, starts_at, ends_at, note, created_at) VALUES (?, ?, ?, ?, ?)",
			m.ID, micros(m.Starts), micros(m.Ends), m.Note, micros(now)); err != nil {
			return err
		}
		tx.audit(event(c, "maintenance.schedule", "", "", []string{"maintenance:" + m.ID}))
		return nil
	})
}

// FindMaintenance returns the windows that have not ended, soonest first.
func (db *DB) FindMaintenance(ctx context.Context) ([]*skjold.Maintenance, error) {
	if skjold.CallerFromContext(ctx) == nil {
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	}
	return queryAll(ctx, db, scanMaintenance, selectMaintenance+" WHERE ends_at > ? ORDER BY starts_at, id", micros(db.now()))
}

// CancelMaintenance removes a window.
func (db *DB) CancelMaintenance(ctx context.Context, id string) error {
	c, err := skjold.OperatorCaller(ctx)
	if err != nil {
		return err
	}
	if !skjold.ValidID(id) {
		return errNotFound("maintenance window")
	}
	return db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec("DELETE FROM maintenance WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound("maintenance window")
		}
		tx.audit(event(c, "maintenance.cancel", "", "", []string{"maintenance:" + id}))
		return nil
	})
}

// AnnounceMaintenance e-mails every active tenant's owners about each window that starts
// within skjold.AnnounceAhead and was not announced yet, each owner in their language, and
// returns how many windows it announced. The background job calls it.
func (db *DB) AnnounceMaintenance(ctx context.Context) (int, error) {
	now := db.now()
	var due []*skjold.Maintenance
	err := db.write(ctx, func(tx *Tx) error {
		due = due[:0]
		rows, err := tx.query(selectMaintenance+" WHERE announced_at IS NULL AND starts_at <= ? AND ends_at > ? ORDER BY starts_at",
			micros(now.Add(skjold.AnnounceAhead)), micros(now))
		if err != nil {
			return err
		}
		if due, err = collect(rows, scanMaintenance); err != nil {
			return err
		}
		for _, m := range due {
			if _, err := tx.exec("UPDATE maintenance SET announced_at = ? WHERE id = ?", micros(now), m.ID); err != nil {
				return err
			}
			tx.audit(&skjold.AuditEvent{Actor: "system:maintenance", Action: "maintenance.announce", Source: "local",
				Fields: []string{"maintenance:" + m.ID}})
		}
		return nil
	})
	if err != nil || len(due) == 0 || db.auth.Mailer == nil {
		return len(due), err
	}
	owners, err := queryAll(ctx, db, scanUser, selectUsers+` JOIN tenants t ON t.id = u.tenant_id
		WHERE t.status = ? AND u.role = ? AND u.suspended = 0 AND u.pending_email IS NULL ORDER BY u.id`,
		skjold.TenantActive, skjold.RoleOwner)
	if err != nil {
		return len(due), err
	}
	for _, m := range due {
		for _, o := range owners {
			cat := i18n.Mail(db.userLanguage(ctx, o.ID))
			body := mailBody(cat.T("mail.maintenance.intro", "issuer", db.auth.Issuer),
				cat.T("mail.maintenance.window", "starts", m.Starts.Format("2006-01-02 15:04"), "ends", m.Ends.Format("2006-01-02 15:04")),
				m.Note, cat.T("mail.maintenance.outro"))
			msg := skjold.Message{To: o.Email, Subject: cat.T("mail.maintenance.subject", "issuer", db.auth.Issuer), Body: body}
			if err := db.auth.Mailer.Send(ctx, msg); err != nil {
				db.log.Error("maintenance announcement not sent", "err", err) // no address: it is personal data
			}
		}
	}
	return len(due), nil
}
