package alert

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/skjold-project/skjold"
)

// DefaultActions are the security events that raise an alert unless configured otherwise
// [F1]: lockouts, bans and block-list changes, second-factor changes and recovery codes used,
// password resets, new accounts, role changes, suspensions, addresses outside an allow list,
// settings changes, support grants, tenant key destructions, freezes (and their lapse) and
// terminations, four-eyes decisions, data-subject requests past their due date, failed
// backups, off-site copies, rotations, restore drills and corrupt backups [F4], and read
// budgets spent [B16].
var DefaultActions = []string{
	"auth.lockout", "security.ban", "auth.2fa_enabled", "auth.2fa_reset", "auth.password_reset",
	"auth.recovery_code_used", "user.create", "user.update", "user.suspend", "security.denied_address",
	"security.unban", "security.blocklist", "settings.update", "grant.create", "tenant.key_destroy",
	"tenant.freeze", "tenant.freeze_lapsed", "tenant.terminate",
	"approval.approved", "approval.rejected", "request.overdue",
	"backup.failed", "backup.copy_failed", "backup.rotation_refused", "backup.corrupt", "drill.failed",
	"erasure.purge_blocked",
	"security.read_budget",
}

// Rule says which audit actions raise an alert and where it goes: an e-mail address, a
// webhook, or both.
type Rule struct {
	Actions []string
	Email   string   // "" for no e-mail
	Webhook *Webhook // nil for no webhook
}

// Alert is what a rule sends: the audit event's ids and action, never a personal value.
type Alert struct {
	Action   string    `json:"action"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`
	TenantID string    `json:"tenant_id,omitempty"`
	Fields   []string  `json:"fields"`
	Source   string    `json:"source,omitempty"`
}

// Dispatcher sends alerts in the background, so that the write that raised one never waits
// for a mail relay or a webhook. A full queue drops alerts and counts them (Dropped): alerts
// must not become a way to slow the server down.
type Dispatcher struct {
	rules   []Rule
	mailer  skjold.Mailer
	log     *slog.Logger
	queue   chan Alert
	dropped atomic.Int64
	failed  atomic.Int64
}

// NewDispatcher returns a dispatcher for rules; mailer sends the e-mail ones.
func NewDispatcher(rules []Rule, mailer skjold.Mailer, log *slog.Logger) *Dispatcher {
	return &Dispatcher{rules: rules, mailer: mailer, log: log.With("component", "alert"), queue: make(chan Alert, 1000)}
}

// Notify queues an alert for e when a rule names its action. It never blocks.
func (d *Dispatcher) Notify(e *skjold.AuditEvent) {
	if d == nil || !d.wanted(e.Action) {
		return
	}
	a := Alert{Action: e.Action, Time: e.Time, Actor: e.Actor, TenantID: e.TenantID, Fields: e.Fields, Source: e.Source}
	select {
	case d.queue <- a:
	default:
		if d.dropped.Add(1)%100 == 1 { // logged, but not once per alert in a flood
			d.log.Error("alert queue full: alerts dropped", "dropped", d.dropped.Load())
		}
	}
}

func (d *Dispatcher) wanted(action string) bool {
	for _, r := range d.rules {
		if slices.Contains(r.Actions, action) {
			return true
		}
	}
	return false
}

// Dropped and Failed count alerts lost to a full queue and deliveries that failed; /metrics
// shows both.
func (d *Dispatcher) Dropped() int64 { return d.dropped.Load() }
func (d *Dispatcher) Failed() int64  { return d.failed.Load() }

// Run delivers queued alerts until ctx ends, then delivers what is queued (bounded by a
// short grace period) and returns. A nil dispatcher returns at once.
func (d *Dispatcher) Run(ctx context.Context) error {
	if d == nil {
		return nil
	}
	for {
		select {
		case a := <-d.queue:
			// Deliver even if ctx ends meanwhile: an alert taken off the queue is not lost
			// to a shutdown; each delivery is bounded on its own.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			d.deliver(dctx, a)
			cancel()
		case <-ctx.Done():
			grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			for {
				select {
				case a := <-d.queue:
					d.deliver(grace, a)
				default:
					return nil
				}
			}
		}
	}
}

// deliver sends a to every rule that wants it, trying each channel up to three times.
func (d *Dispatcher) deliver(ctx context.Context, a Alert) {
	for _, r := range d.rules {
		if !slices.Contains(r.Actions, a.Action) {
			continue
		}
		if r.Email != "" {
			d.retry(ctx, "email", func(ctx context.Context) error { return d.mailer.Send(ctx, message(r.Email, a)) })
		}
		if r.Webhook != nil {
			d.retry(ctx, "webhook", func(ctx context.Context) error { return r.Webhook.Send(ctx, a) })
		}
	}
}

func (d *Dispatcher) retry(ctx context.Context, channel string, send func(context.Context) error) {
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		if err = send(ctx); err == nil {
			return
		}
		if attempt == 3 || sleep(ctx, time.Duration(attempt)*time.Second) != nil {
			break
		}
	}
	d.failed.Add(1)
	d.log.Error("alert not delivered", "channel", channel, "err", err)
}

func message(to string, a Alert) skjold.Message {
	var b strings.Builder
	fmt.Fprintf(&b, "Skjold recorded a security event.\n\nAction: %s\nTime:   %s\nActor:  %s\n", a.Action,
		a.Time.UTC().Format(time.RFC3339), a.Actor)
	if a.TenantID != "" {
		fmt.Fprintf(&b, "Tenant: %s\n", a.TenantID)
	}
	if a.Source != "" {
		fmt.Fprintf(&b, "From:   %s\n", a.Source)
	}
	fmt.Fprintf(&b, "Detail: %s\n\nThe audit log holds the full record.\n", strings.Join(a.Fields, ", "))
	return skjold.Message{To: to, Subject: "Skjold security alert: " + a.Action, Body: b.String()}
}

// sleep waits for d, or returns ctx's error if it ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
