package store

import (
	"context"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

// incidentAlert is one alert the 72-hour clock raises: the audit action and the column that
// marks it raised.
type incidentAlert struct {
	action, column string
	inc            *skjold.Incident
}

// FlagIncidentDeadlines raises the 72-hour clock's alerts [F2], each once per incident: an
// incident.deadline_near audit event when skjold.IncidentWarnBefore is left and
// incident.overdue when the deadline has passed, while the clock runs (open, and the
// authority neither notified nor decided against). The alert dispatcher forwards the events;
// a tenant incident's owners and admins are also e-mailed in their language. It returns how
// many alerts it raised. The hourly job calls it.
func (db *DB) FlagIncidentDeadlines(ctx context.Context) (int, error) {
	now := db.now()
	var raised []incidentAlert
	err := db.write(ctx, func(tx *Tx) error {
		raised = raised[:0]
		rows, err := tx.query(selectIncidents+` WHERE status = ? AND aware_at <= ? AND (warned_at IS NULL OR overdue_at IS NULL)
			ORDER BY aware_at LIMIT 1000`, skjold.IncidentOpen, micros(now.Add(skjold.IncidentWarnBefore-skjold.NotifyWithin)))
		if err != nil {
			return err
		}
		list, err := collect(rows, scanIncident)
		if err != nil {
			return err
		}
		for _, inc := range list {
			inc.SetClock(now)
			if inc.Clock.Stopped {
				continue
			}
			var warned, overdue *int64
			if err := tx.queryRow("SELECT warned_at, overdue_at FROM incidents WHERE id = ?", inc.ID).Scan(&warned, &overdue); err != nil {
				return err
			}
			a := incidentAlert{action: "incident.deadline_near", column: "warned_at", inc: inc}
			switch {
			case inc.Clock.Overdue && overdue == nil:
				a.action, a.column = "incident.overdue", "overdue_at"
			case inc.Clock.Overdue || warned != nil:
				continue
			}
			// An overdue alert stands for the warning too: a clock found past its end
			// raises one alert, not two.
			q := "UPDATE incidents SET " + a.column + " = ?"
			if a.column == "overdue_at" {
				q += ", warned_at = COALESCE(warned_at, ?)"
			}
			args := []any{micros(now)}
			if a.column == "overdue_at" {
				args = append(args, micros(now))
			}
			if _, err := tx.exec(q+" WHERE id = ?", append(args, inc.ID)...); err != nil {
				return err
			}
			tx.audit(&skjold.AuditEvent{Actor: "system:incidents", TenantID: inc.TenantID, Action: a.action,
				Fields: []string{"incident:" + inc.ID}, Source: "local"})
			raised = append(raised, a)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, a := range raised {
		if a.inc.TenantID != "" {
			db.mailIncidentClock(ctx, a)
		}
	}
	return len(raised), nil
}

// mailIncidentClock e-mails a tenant's owners and admins that an incident's clock is about to
// run out or has.
func (db *DB) mailIncidentClock(ctx context.Context, a incidentAlert) {
	if db.auth.Mailer == nil {
		return
	}
	type admin struct{ email, lang string }
	admins, err := queryAll(ctx, db, func(s scanner) (admin, error) {
		var x admin
		return x, s.Scan(&x.email, &x.lang)
	}, `SELECT email, language FROM users WHERE tenant_id = ? AND role IN (?, ?) AND suspended = 0
		AND pending_email IS NULL ORDER BY id`, a.inc.TenantID, skjold.RoleOwner, skjold.RoleAdmin)
	if err != nil {
		db.log.Error("incident clock e-mail not sent", "err", err)
		return
	}
	key := "mail.incident.deadline_near"
	if a.action == "incident.overdue" {
		key = "mail.incident.overdue"
	}
	for _, x := range admins {
		cat := i18n.Mail(x.lang)
		body := mailBody(cat.T(key, "title", a.inc.Title, "deadline", a.inc.Clock.Deadline.Format("2006-01-02 15:04")),
			cat.T("mail.incident.clock_outro", "id", a.inc.ID))
		m := skjold.Message{To: x.email, Subject: cat.T(key+"_subject", "issuer", db.auth.Issuer), Body: body}
		if err := db.auth.Mailer.Send(ctx, m); err != nil {
			db.log.Error("incident clock e-mail not sent", "err", err) // no address: personal data
		}
	}
}
