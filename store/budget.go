package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/skjold-project/skjold"
)

var _ skjold.ReadBudgetService = (*DB)(nil)

// readBudgetSetting names a budget in the settings table: the operator's (tenant "") holds
// the defaults and bounds, a tenant's its own per-minute and per-day budget.
const readBudgetSetting = "read_budget"

// readUsagePrefix names a caller's read counts in the settings table, followed by its
// actor ("token:…", "user:…"). They live there, one small row per caller and tenant, so
// that they need no schema change, go with the tenant when it is terminated, and are read
// and written in the transaction that appends the read's audit events.
const readUsagePrefix = "read_usage:"

// ReadBudget returns the budget that applies to the caller's tenant, or the operator's.
func (db *DB) ReadBudget(ctx context.Context) (*skjold.ReadBudget, error) {
	c := skjold.CallerFromContext(ctx)
	if c == nil {
		return nil, skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	}
	b, err := db.readBudgetFor(ctx, c.TenantID)
	return &b, err
}

// PutReadBudget sets the caller's tenant's budget within the operator's bounds, or, for an
// operator, the defaults and bounds.
func (db *DB) PutReadBudget(ctx context.Context, b *skjold.ReadBudget) error {
	c := skjold.CallerFromContext(ctx)
	switch {
	case c == nil:
		return skjold.Errorf(skjold.EUNAUTHORIZED, "authentication required")
	case c.Operator && !c.Can(skjold.ScopeOperatorManage), !c.Operator && !c.Can(skjold.ScopeAdmin):
		return skjold.Errorf(skjold.EFORBIDDEN, "changing the read budget needs an administrator")
	}
	if !c.Operator {
		bounds, err := db.storedReadBudget(ctx, "")
		if err != nil {
			return err
		}
		switch {
		case b.MaxPerMinute != 0 && b.MaxPerMinute != bounds.MaxPerMinute:
			return skjold.FieldError("max_per_minute", "operator", "max_per_minute is set by the operator (%d): leave it as it is", bounds.MaxPerMinute)
		case b.MaxPerDay != 0 && b.MaxPerDay != bounds.MaxPerDay:
			return skjold.FieldError("max_per_day", "operator", "max_per_day is set by the operator (%d): leave it as it is", bounds.MaxPerDay)
		}
		b.MaxPerMinute, b.MaxPerDay = bounds.MaxPerMinute, bounds.MaxPerDay
	}
	if err := b.Validate(); err != nil {
		return err
	}
	value, err := json.Marshal(b)
	if err != nil {
		return err
	}
	err = db.write(ctx, func(tx *Tx) error {
		if err := tx.putSetting(c.TenantID, readBudgetSetting, string(value)); err != nil {
			return err
		}
		tx.audit(event(c, "settings.update", "", "", []string{readBudgetSetting,
			"per_minute:" + strconv.Itoa(b.PerMinute), "per_day:" + strconv.Itoa(b.PerDay)}))
		return nil
	})
	db.budgets.clear()
	return err
}

// putSetting stores a setting's value, replacing the one before.
func (tx *Tx) putSetting(tenantID, name, value string) error {
	_, err := tx.exec(`INSERT INTO settings (tenant_id, name, value, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (tenant_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		tenantID, name, value, micros(tx.db.now()))
	return err
}

// readBudgetFor returns the budget of tenantID's callers ("" for the operator's defaults and
// bounds): the tenant's own within the operator's bounds, or the operator's defaults. Every
// read needs it, so it is cached for recentTTL.
func (db *DB) readBudgetFor(ctx context.Context, tenantID string) (skjold.ReadBudget, error) {
	if b, _, ok := db.budgets.get(tenantID); ok {
		return *b, nil
	}
	_, gen, _ := db.budgets.get(tenantID)
	operator, err := db.storedReadBudget(ctx, "")
	if err != nil {
		return operator, err
	}
	b := operator
	if tenantID != "" {
		own, err := db.storedReadBudget(ctx, tenantID)
		if err != nil {
			return b, err
		}
		if own.PerMinute > 0 {
			b.PerMinute, b.PerDay = own.PerMinute, own.PerDay
		}
		b = b.Within(operator) // the operator may have lowered its bounds since
	}
	db.budgets.put(tenantID, &b, gen)
	return b, nil
}

// storedReadBudget reads the budget stored for tenantID: for the operator, the defaults when
// none is stored; for a tenant, zero when it has set none.
func (db *DB) storedReadBudget(ctx context.Context, tenantID string) (skjold.ReadBudget, error) {
	var b skjold.ReadBudget
	if tenantID == "" {
		b = skjold.DefaultReadBudget()
	}
	var value string
	err := db.queryRow(ctx, "SELECT value FROM settings WHERE tenant_id = ? AND name = ?", tenantID, readBudgetSetting).Scan(&value)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return b, nil
	case err != nil:
		return b, err
	}
	if err := json.Unmarshal([]byte(value), &b); err != nil {
		return b, fmt.Errorf("store: stored read budget does not decode: %w", err)
	}
	return b, nil
}

// readUsage is what one caller read in its current windows, in microseconds since the epoch
// and subjects. Alerted* hold the start of the last window a refusal was recorded for, so
// that a caller who keeps trying raises one security event per window, not one per request.
type readUsage struct {
	MinuteStart   int64 `json:"minute_start"`
	Minute        int   `json:"minute"`
	DayStart      int64 `json:"day_start"`
	Day           int   `json:"day"`
	AlertedMinute int64 `json:"alerted_minute,omitempty"`
	AlertedDay    int64 `json:"alerted_day,omitempty"`
}

// roll starts a new window where the current one has ended at now.
func (u *readUsage) roll(now int64) {
	if now >= u.MinuteStart+skjold.ReadBudgetMinute.Microseconds() {
		u.MinuteStart, u.Minute = now, 0
	}
	if now >= u.DayStart+skjold.ReadBudgetDay.Microseconds() {
		u.DayStart, u.Day = now, 0
	}
}

// chargeReads charges n subjects to the caller's budget b inside the write that appends the
// read's audit events, and returns the refusal (nil when the read may go on). Writes run one
// at a time, in one process and, on PostgreSQL, across nodes (every write locks the audit
// head first), so two reads can never both pass a budget that only one of them fits.
// perMinute false charges only the day's budget: a tenant export holds more subjects than a
// minute's budget by design. A refusal charges nothing, and records a security.read_budget
// event the first time in each window. dry checks and records a refusal but charges nothing.
func (tx *Tx) chargeReads(c *skjold.Caller, n int, b skjold.ReadBudget, perMinute, dry bool) (*skjold.Error, error) {
	name := readUsagePrefix + c.Actor
	var u readUsage
	var value string
	q := "SELECT value FROM settings WHERE tenant_id = ? AND name = ?"
	if tx.db.engine == Postgres {
		q += " FOR UPDATE"
	}
	switch err := tx.queryRow(q, c.TenantID, name).Scan(&value); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal([]byte(value), &u); err != nil {
			return nil, fmt.Errorf("store: stored read usage does not decode: %w", err)
		}
	}
	now := micros(tx.db.now())
	u.roll(now)
	refusal := u.refuse(c, n, b, perMinute, now)
	switch {
	case refusal == nil && !dry:
		u.Minute, u.Day = u.Minute+n, u.Day+n
	case refusal != nil && refusal.RetryAfter > 0:
		if window, start := refusal.window(&u); *window != start {
			*window = start
			tx.audit(event(c, "security.read_budget", "", "", []string{"window:" + refusal.Rule,
				"budget:" + strconv.Itoa(refusal.budget), "asked:" + strconv.Itoa(n)}))
		}
	}
	stored, err := json.Marshal(u)
	if err != nil {
		return nil, err
	}
	if err := tx.putSetting(c.TenantID, name, string(stored)); err != nil {
		return nil, err
	}
	if refusal == nil {
		return nil, nil
	}
	return refusal.Error, nil
}

// budgetRefusal is a refused charge: the error for the caller, with Rule naming the window
// ("minute" or "day"), and the budget it ran into.
type budgetRefusal struct {
	*skjold.Error
	budget int
}

// window returns where u records the refusals of r's window, and that window's start.
func (r *budgetRefusal) window(u *readUsage) (*int64, int64) {
	if r.Rule == "day" {
		return &u.AlertedDay, u.DayStart
	}
	return &u.AlertedMinute, u.MinuteStart
}

// refuse returns why u cannot take n more subjects under b at now, or nil.
func (u *readUsage) refuse(c *skjold.Caller, n int, b skjold.ReadBudget, perMinute bool, now int64) *budgetRefusal {
	who := "this token"
	if c.UserID != "" {
		who = "you"
	}
	day, minute := skjold.ReadBudgetDay.Microseconds(), skjold.ReadBudgetMinute.Microseconds()
	switch {
	case n > b.PerDay || perMinute && n > b.PerMinute:
		limit, per := b.PerDay, "a day"
		if perMinute && n > b.PerMinute {
			limit, per = b.PerMinute, "a minute"
		}
		return &budgetRefusal{budget: limit, Error: &skjold.Error{Code: skjold.EREADBUDGET, Rule: "size", Message: fmt.Sprintf(
			"this request would read %d subjects, more than the read budget of %d %s: ask for fewer", n, limit, per)}}
	case u.Day+n > b.PerDay:
		return &budgetRefusal{budget: b.PerDay, Error: &skjold.Error{Code: skjold.EREADBUDGET, Rule: "day",
			RetryAfter: time.Duration(u.DayStart+day-now) * time.Microsecond, Message: fmt.Sprintf(
				"read budget exceeded: %s read %d of %d subjects allowed a day; try again when the day's window ends (Retry-After)", who, u.Day, b.PerDay)}}
	case perMinute && u.Minute+n > b.PerMinute:
		return &budgetRefusal{budget: b.PerMinute, Error: &skjold.Error{Code: skjold.EREADBUDGET, Rule: "minute",
			RetryAfter: time.Duration(u.MinuteStart+minute-now) * time.Microsecond, Message: fmt.Sprintf(
				"read budget exceeded: %s read %d of %d subjects allowed a minute; try again after Retry-After seconds", who, u.Minute, b.PerMinute)}}
	}
	return nil
}

// auditRead appends the audit events of a read and charges the subjects they name to the
// caller's read budget, in one write, before the data is handed out. Over budget it appends
// no read event, and returns EREADBUDGET: the data must not be handed out.
func (db *DB) auditRead(ctx context.Context, c *skjold.Caller, events ...*skjold.AuditEvent) error {
	subjects := map[string]bool{}
	for _, e := range events {
		if e.SubjectID != "" {
			subjects[e.SubjectID] = true
		}
	}
	if len(subjects) == 0 {
		return db.auditOnly(ctx, events...)
	}
	return db.charged(ctx, c, len(subjects), true, events...)
}

// chargeAnswer charges the one subject whose values a write hands back to the caller's read
// budget b, inside that write: an update answers with the values the caller did not send, so
// it must be no way round the budget. A refusal fails the write; its security event goes
// with the rolled-back write, so the caller records it with noteRefusal.
func (tx *Tx) chargeAnswer(c *skjold.Caller, b skjold.ReadBudget) error {
	refusal, err := tx.chargeReads(c, 1, b, true, false)
	if err == nil && refusal != nil {
		return refusal
	}
	return err
}

// noteRefusal records, after a write that chargeAnswer refused, the security event that the
// write's rollback took with it (once per window, as for reads), and returns err unchanged.
func (db *DB) noteRefusal(ctx context.Context, c *skjold.Caller, b skjold.ReadBudget, err error) error {
	if skjold.ErrorCode(err) != skjold.EREADBUDGET {
		return err
	}
	_ = db.enqueue(ctx, &job{plain: true, done: make(chan error, 1), fn: func(tx *Tx) error {
		_, err := tx.chargeReads(c, 1, b, true, true)
		return err
	}})
	return err
}

// charged runs one write that charges n subjects to the caller's budget and, when they fit,
// appends events; it returns the refusal when they do not.
func (db *DB) charged(ctx context.Context, c *skjold.Caller, n int, perMinute bool, events ...*skjold.AuditEvent) error {
	b, err := db.readBudgetFor(ctx, c.TenantID)
	if err != nil {
		return err
	}
	var refusal *skjold.Error
	err = db.enqueue(ctx, &job{plain: true, done: make(chan error, 1), fn: func(tx *Tx) error {
		var err error
		if refusal, err = tx.chargeReads(c, n, b, perMinute, false); err == nil && refusal == nil {
			tx.events = append(tx.events, events...)
		}
		return err
	}})
	if err != nil {
		return err
	}
	if refusal != nil {
		return refusal
	}
	return nil
}
