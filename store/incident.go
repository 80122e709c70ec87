package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

// The breach register [F2]: incidents, their append-only timelines, and the tenants an
// operator incident affects with their acknowledgements.

const selectIncidents = `SELECT id, tenant_id, title, description, detected_at, aware_at, categories, subjects, records,
	consequences, measures, contact, scoped_subjects, decision, status, created_at, closed_at FROM incidents`

func scanIncident(s scanner) (*skjold.Incident, error) {
	var i skjold.Incident
	var detected, aware, created int64
	var cats string
	var scoped, closed sql.NullInt64
	var decision sql.NullString
	err := s.Scan(&i.ID, &i.TenantID, &i.Title, &i.Description, &detected, &aware, &cats, &i.Subjects, &i.Records,
		&i.Consequences, &i.Measures, &i.Contact, &scoped, &decision, &i.Status, &created, &closed)
	if err != nil {
		return nil, err
	}
	i.DetectedAt, i.AwareAt, i.CreatedAt, i.ClosedAt = fromMicros(detected), fromMicros(aware), fromMicros(created), optTime(closed)
	if err := json.Unmarshal([]byte(cats), &i.Categories); err != nil {
		return nil, err
	}
	if scoped.Valid {
		n := int(scoped.Int64)
		i.ScopedSubjects = &n
	}
	if decision.Valid {
		i.Decision = new(skjold.IncidentDecision)
		if err := json.Unmarshal([]byte(decision.String), i.Decision); err != nil {
			return nil, err
		}
	}
	return &i, nil
}

// incidentCaller returns the caller when it may use the register: a tenant admin, or an
// operator (with operator.manage when write is set).
func incidentCaller(ctx context.Context, write bool) (*skjold.Caller, error) {
	c := skjold.CallerFromContext(ctx)
	switch {
	case c == nil:
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	case !c.Operator && c.Can(skjold.ScopeAdmin):
		return c, nil
	case c.Operator && (c.Local || c.Can(skjold.ScopeOperatorManage) || !write && c.Can(skjold.ScopeOperatorRead)):
		return c, nil
	}
	return nil, skjold.Errorf(skjold.EFORBIDDEN, "the breach register is kept by tenant admins and operator staff")
}

// CreateIncident records an incident; an operator incident notifies the tenants it names.
func (db *DB) CreateIncident(ctx context.Context, inc *skjold.Incident, tenants []string) error {
	c, err := incidentCaller(ctx, true)
	if err != nil {
		return err
	}
	now := db.now()
	if err := inc.Validate(now); err != nil {
		return err
	}
	if !c.Operator && len(tenants) > 0 {
		return skjold.FieldError("tenants", "operator", "only the operator names affected tenants")
	}
	tenants = slices.Compact(slices.Sorted(slices.Values(tenants)))
	for _, t := range tenants {
		if !skjold.ValidID(t) {
			return skjold.FieldError("tenants", "id", "tenants must be tenant ids")
		}
	}
	if inc.Categories == nil {
		inc.Categories = []string{}
	}
	inc.ID, inc.TenantID, inc.Status, inc.CreatedAt, inc.ClosedAt = newID(), c.TenantID, skjold.IncidentOpen, now, nil
	inc.DetectedAt, inc.AwareAt = inc.DetectedAt.UTC().Truncate(time.Microsecond), inc.AwareAt.UTC().Truncate(time.Microsecond)
	inc.Decision, inc.ScopedSubjects, inc.Tenants = nil, nil, nil
	cats, _ := json.Marshal(inc.Categories)
	err = db.write(ctx, func(tx *Tx) error {
		if _, err := tx.exec(`INSERT INTO incidents (id, tenant_id, title, description, detected_at, aware_at, categories,
			subjects, records, consequences, measures, contact, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			inc.ID, inc.TenantID, inc.Title, inc.Description, micros(inc.DetectedAt), micros(inc.AwareAt), string(cats),
			inc.Subjects, inc.Records, inc.Consequences, inc.Measures, inc.Contact, inc.Status, micros(now)); err != nil {
			return err
		}
		for _, t := range tenants {
			var n int
			if err := tx.queryRow("SELECT COUNT(*) FROM tenants WHERE id = ? AND status = ?", t, skjold.TenantActive).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return errNotFound("tenant")
			}
			if _, err := tx.exec("INSERT INTO incident_tenants (incident_id, tenant_id, notified_at) VALUES (?, ?, ?)", inc.ID, t, micros(now)); err != nil {
				return err
			}
			inc.Tenants = append(inc.Tenants, &skjold.IncidentTenant{TenantID: t, NotifiedAt: now})
			tx.audit(&skjold.AuditEvent{Actor: c.Actor, TenantID: t, Action: "incident.notify_tenant", Fields: []string{"incident:" + inc.ID}, Source: c.Source})
		}
		if err := tx.incidentEntry(c, inc, "created", ""); err != nil {
			return err
		}
		tx.audit(event(c, "incident.create", "", "", []string{"incident:" + inc.ID}))
		return nil
	})
	if err != nil {
		return err
	}
	inc.SetClock(now)
	for _, t := range tenants {
		db.mailIncidentTenant(ctx, inc, t)
	}
	return nil
}

// incidentEntry appends a line to an incident's timeline.
func (tx *Tx) incidentEntry(c *skjold.Caller, inc *skjold.Incident, kind, text string) error {
	_, err := tx.exec("INSERT INTO incident_entries (incident_id, tenant_id, at, actor, kind, text) VALUES (?, ?, ?, ?, ?, ?)",
		inc.ID, inc.TenantID, micros(tx.db.now()), c.Actor, kind, text)
	return err
}

// mailIncidentTenant e-mails a tenant's owners, each in their language, that an operator
// incident affects the tenant and asks them to acknowledge it in the console.
func (db *DB) mailIncidentTenant(ctx context.Context, inc *skjold.Incident, tenantID string) {
	if db.auth.Mailer == nil {
		return
	}
	type owner struct{ email, lang string }
	owners, err := queryAll(ctx, db, func(s scanner) (owner, error) {
		var o owner
		return o, s.Scan(&o.email, &o.lang)
	}, `SELECT email, language FROM users WHERE tenant_id = ? AND role = ? AND suspended = 0
		AND pending_email IS NULL ORDER BY id`, tenantID, skjold.RoleOwner)
	if err != nil {
		db.log.Error("incident notice not sent", "err", err)
		return
	}
	for _, o := range owners {
		cat := i18n.Mail(o.lang)
		body := mailBody(cat.T("mail.incident.intro", "issuer", db.auth.Issuer),
			cat.T("mail.incident.what", "title", inc.Title, "aware", inc.AwareAt.Format("2006-01-02 15:04")),
			inc.Description, cat.T("mail.incident.acknowledge", "id", inc.ID))
		m := skjold.Message{To: o.email, Subject: cat.T("mail.incident.subject", "issuer", db.auth.Issuer), Body: body}
		if err := db.auth.Mailer.Send(ctx, m); err != nil {
			db.log.Error("incident notice not sent", "err", err) // no address: personal data
		}
	}
}

// FindIncidents returns the caller's incidents: a tenant's own and the operator's that affect
// it, or the operator's.
func (db *DB) FindIncidents(ctx context.Context) ([]*skjold.Incident, error) {
	c, err := incidentCaller(ctx, false)
	if err != nil {
		return nil, err
	}
	list, err := queryAll(ctx, db, scanIncident, selectIncidents+` WHERE tenant_id = ? OR (? <> '' AND tenant_id = ''
		AND id IN (SELECT incident_id FROM incident_tenants WHERE tenant_id = ?)) ORDER BY created_at DESC, id DESC LIMIT 500`,
		c.TenantID, c.TenantID, c.TenantID)
	if err != nil {
		return nil, err
	}
	for _, inc := range list {
		if err := db.incidentTenants(ctx, c, inc); err != nil {
			return nil, err
		}
		inc.SetClock(db.now())
	}
	return list, nil
}

// incidentTenants fills an operator incident's tenants: all of them for the operator, the
// caller's own row for a tenant.
func (db *DB) incidentTenants(ctx context.Context, c *skjold.Caller, inc *skjold.Incident) error {
	if inc.TenantID != "" {
		return nil
	}
	q, args := "SELECT tenant_id, notified_at, acknowledged_at FROM incident_tenants WHERE incident_id = ?", []any{inc.ID}
	if !c.Operator {
		q, args = q+" AND tenant_id = ?", append(args, c.TenantID)
	}
	var err error
	inc.Tenants, err = queryAll(ctx, db, func(s scanner) (*skjold.IncidentTenant, error) {
		var t skjold.IncidentTenant
		var notified int64
		var ack sql.NullInt64
		err := s.Scan(&t.TenantID, &notified, &ack)
		t.NotifiedAt, t.AcknowledgedAt = fromMicros(notified), optTime(ack)
		return &t, err
	}, q+" ORDER BY tenant_id", args...)
	return err
}

// FindIncident returns one incident the caller sees.
func (db *DB) FindIncident(ctx context.Context, id string) (*skjold.Incident, error) {
	c, err := incidentCaller(ctx, false)
	if err != nil {
		return nil, err
	}
	return db.visibleIncident(ctx, c, id)
}

func (db *DB) visibleIncident(ctx context.Context, c *skjold.Caller, id string) (*skjold.Incident, error) {
	if !skjold.ValidID(id) {
		return nil, errNotFound("incident")
	}
	inc, err := scanIncident(db.queryRow(ctx, selectIncidents+" WHERE id = ?", id))
	if err != nil {
		return nil, notFound(err, "incident")
	}
	if err := db.incidentTenants(ctx, c, inc); err != nil {
		return nil, err
	}
	if inc.TenantID != c.TenantID && (c.Operator || len(inc.Tenants) == 0) {
		return nil, errNotFound("incident")
	}
	inc.SetClock(db.now())
	return inc, nil
}

// ownIncident returns an incident the caller may change: its tenant's, or the operator's
// for an operator, and open unless closed is allowed.
func (db *DB) ownIncident(ctx context.Context, id string) (*skjold.Caller, *skjold.Incident, error) {
	c, err := incidentCaller(ctx, true)
	if err != nil {
		return nil, nil, err
	}
	inc, err := db.visibleIncident(ctx, c, id)
	if err != nil {
		return nil, nil, err
	}
	if inc.TenantID != c.TenantID {
		return nil, nil, skjold.Errorf(skjold.EFORBIDDEN, "the operator keeps this incident; its tenants acknowledge it")
	}
	if inc.Status == skjold.IncidentClosed {
		return nil, nil, skjold.Errorf(skjold.ECONFLICT, "the incident is closed")
	}
	return c, inc, nil
}

// IncidentTimeline returns an incident's timeline; a tenant reading an operator incident
// sees none, since it names the other tenants' acknowledgements.
func (db *DB) IncidentTimeline(ctx context.Context, id string) ([]*skjold.IncidentEntry, error) {
	c, err := incidentCaller(ctx, false)
	if err != nil {
		return nil, err
	}
	inc, err := db.visibleIncident(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if inc.TenantID != c.TenantID {
		return []*skjold.IncidentEntry{}, nil
	}
	return queryAll(ctx, db, func(s scanner) (*skjold.IncidentEntry, error) {
		var e skjold.IncidentEntry
		var at int64
		err := s.Scan(&e.Seq, &at, &e.Actor, &e.Kind, &e.Text)
		e.Time = fromMicros(at)
		return &e, err
	}, "SELECT seq, at, actor, kind, text FROM incident_entries WHERE incident_id = ? ORDER BY seq", id)
}

// AddIncidentEntry appends a note to an open incident's timeline.
func (db *DB) AddIncidentEntry(ctx context.Context, id, text string) (*skjold.IncidentEntry, error) {
	if err := skjold.CheckIncidentText("text", text); err != nil {
		return nil, err
	}
	c, inc, err := db.ownIncident(ctx, id)
	if err != nil {
		return nil, err
	}
	err = db.write(ctx, func(tx *Tx) error {
		if err := tx.incidentEntry(c, inc, "note", text); err != nil {
			return err
		}
		tx.audit(event(c, "incident.note", "", "", []string{"incident:" + id}))
		return nil
	})
	if err != nil {
		return nil, err
	}
	list, err := db.IncidentTimeline(ctx, id)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	return list[len(list)-1], nil
}

// DecideIncident records the notification decision.
func (db *DB) DecideIncident(ctx context.Context, id string, d skjold.IncidentDecision, authorityNotified bool) (*skjold.Incident, error) {
	if err := skjold.CheckIncidentText("reason", d.Reason); err != nil {
		return nil, err
	}
	c, inc, err := db.ownIncident(ctx, id)
	if err != nil {
		return nil, err
	}
	now := db.now()
	d.DecidedAt, d.AuthorityNotifiedAt = now, nil
	if inc.Decision != nil {
		d.AuthorityNotifiedAt = inc.Decision.AuthorityNotifiedAt
	}
	if authorityNotified {
		if !d.NotifyAuthority {
			return nil, skjold.FieldError("authority_notified", "decision", "the authority is notified only when the decision is to notify it")
		}
		if d.AuthorityNotifiedAt == nil {
			d.AuthorityNotifiedAt = &now
		}
	}
	b, _ := json.Marshal(d)
	text := "authority=" + strconv.FormatBool(d.NotifyAuthority) + " subjects=" + strconv.FormatBool(d.NotifySubjects)
	if d.AuthorityNotifiedAt != nil {
		text += " authority_notified=" + d.AuthorityNotifiedAt.Format(time.RFC3339)
	}
	err = db.write(ctx, func(tx *Tx) error {
		if _, err := tx.exec("UPDATE incidents SET decision = ? WHERE id = ?", string(b), id); err != nil {
			return err
		}
		if err := tx.incidentEntry(c, inc, "decision", text+"\n"+d.Reason); err != nil {
			return err
		}
		tx.audit(event(c, "incident.decide", "", "", []string{"incident:" + id}))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return db.FindIncident(ctx, id)
}

// CloseIncident closes an open incident with a note.
func (db *DB) CloseIncident(ctx context.Context, id, note string) (*skjold.Incident, error) {
	if err := skjold.CheckIncidentText("note", note); err != nil {
		return nil, err
	}
	c, inc, err := db.ownIncident(ctx, id)
	if err != nil {
		return nil, err
	}
	err = db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec("UPDATE incidents SET status = ?, closed_at = ? WHERE id = ? AND status = ?",
			skjold.IncidentClosed, micros(db.now()), id, skjold.IncidentOpen)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return skjold.Errorf(skjold.ECONFLICT, "the incident is closed")
		}
		if err := tx.incidentEntry(c, inc, "closed", note); err != nil {
			return err
		}
		tx.audit(event(c, "incident.close", "", "", []string{"incident:" + id}))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return db.FindIncident(ctx, id)
}

// AcknowledgeIncident records the caller's tenant's acknowledgement of an operator incident.
func (db *DB) AcknowledgeIncident(ctx context.Context, id string) (*skjold.Incident, error) {
	c, err := incidentCaller(ctx, true)
	if err != nil {
		return nil, err
	}
	if c.Operator {
		return nil, skjold.Errorf(skjold.EFORBIDDEN, "the affected tenants acknowledge an incident")
	}
	inc, err := db.visibleIncident(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if inc.TenantID != "" {
		return nil, skjold.Errorf(skjold.ECONFLICT, "only an operator incident is acknowledged")
	}
	if inc.Tenants[0].AcknowledgedAt != nil {
		return nil, skjold.Errorf(skjold.ECONFLICT, "the incident is acknowledged already")
	}
	err = db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE incident_tenants SET acknowledged_at = ?, acknowledged_by = ?
			WHERE incident_id = ? AND tenant_id = ? AND acknowledged_at IS NULL`, micros(db.now()), c.Actor, id, c.TenantID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return skjold.Errorf(skjold.ECONFLICT, "the incident is acknowledged already")
		}
		if err := tx.incidentEntry(c, inc, "acknowledged", "tenant:"+c.TenantID); err != nil {
			return err
		}
		tx.audit(event(c, "incident.acknowledge", "", "", []string{"incident:" + id}))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return db.FindIncident(ctx, id)
}

// ScopeIncident answers a scoping question from the audit chain and stores the subject count.
func (db *DB) ScopeIncident(ctx context.Context, id string, q skjold.IncidentScope) (*skjold.IncidentScopeResult, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	c, inc, err := db.ownIncident(ctx, id)
	if err != nil {
		return nil, err
	}
	res, err := db.scopeAudit(ctx, c, q)
	if err != nil {
		return nil, err
	}
	text := "events=" + strconv.Itoa(res.Events) + " subjects=" + strconv.Itoa(res.Subjects) + " " + scopeWho(q) +
		" " + q.Since.UTC().Format(time.RFC3339) + "/" + q.Until.UTC().Format(time.RFC3339)
	err = db.write(ctx, func(tx *Tx) error {
		if _, err := tx.exec("UPDATE incidents SET scoped_subjects = ? WHERE id = ?", res.Subjects, id); err != nil {
			return err
		}
		if err := tx.incidentEntry(c, inc, "scope", text); err != nil {
			return err
		}
		tx.audit(event(c, "incident.scope", "", "", []string{"incident:" + id}))
		return nil
	})
	return res, err
}

func scopeWho(q skjold.IncidentScope) string {
	if a := q.Actor(); a != "" {
		return a
	}
	return "address:" + strings.TrimSpace(q.Address)
}

// maxScopeEvents caps the audit events one scoping reads; a larger answer is refused with a
// request for a shorter period rather than read at length.
const maxScopeEvents = 500_000

// scopeAudit counts what the scoped actor or address touched: distinct subjects, field names
// and actions. A tenant sees its own events only.
func (db *DB) scopeAudit(ctx context.Context, c *skjold.Caller, q skjold.IncidentScope) (*skjold.IncidentScopeResult, error) {
	where, args := "time >= ? AND time < ?", []any{micros(q.Since), micros(q.Until)}
	if !c.Operator {
		where, args = "tenant_id = ? AND "+where, append([]any{c.TenantID}, args...)
	}
	if a := q.Actor(); a != "" {
		where, args = where+" AND actor = ?", append(args, a)
	} else {
		where, args = where+" AND source = ?", append(args, strings.TrimSpace(q.Address))
	}
	rows, err := db.query(ctx, "SELECT subject_id, action, fields FROM audit_events WHERE "+where+" ORDER BY seq LIMIT ?",
		append(args, maxScopeEvents+1)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	res := &skjold.IncidentScopeResult{SubjectIDs: []string{}}
	subjects, fields, actions := map[string]bool{}, map[string]int{}, map[string]int{}
	for rows.Next() {
		var subject, action, fs string
		if err := rows.Scan(&subject, &action, &fs); err != nil {
			return nil, classify(err)
		}
		if res.Events++; res.Events > maxScopeEvents {
			return nil, skjold.FieldError("until", "range", "more than %d events: scope a shorter period", maxScopeEvents)
		}
		actions[action]++
		if subject != "" {
			subjects[subject] = true
		}
		for _, f := range strings.Split(fs, ",") {
			if f != "" && !strings.Contains(f, ":") { // "incident:…"-style references are ids, not fields
				fields[f]++
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	res.Subjects = len(subjects)
	res.SubjectIDs = slices.Sorted(func(yield func(string) bool) {
		for s := range subjects {
			if !yield(s) {
				return
			}
		}
	})
	if res.SubjectIDs == nil {
		res.SubjectIDs = []string{}
	}
	if len(res.SubjectIDs) > skjold.MaxScopeSubjects {
		res.SubjectIDs, res.Truncated = res.SubjectIDs[:skjold.MaxScopeSubjects], true
	}
	res.Fields, res.Actions = scopeCounts(fields), scopeCounts(actions)
	return res, nil
}

// scopeCounts returns the counts sorted by name.
func scopeCounts(m map[string]int) []skjold.ScopeCount {
	out := make([]skjold.ScopeCount, 0, len(m))
	for k, v := range m {
		out = append(out, skjold.ScopeCount{Name: k, Count: v})
	}
	slices.SortFunc(out, func(a, b skjold.ScopeCount) int { return strings.Compare(a.Name, b.Name) })
	return out
}
