package alert

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

// DefaultActions are the security events that raise an alert unless configured otherwise
// [F1]: lockouts, bans and block-list changes, second-factor changes and recovery codes used,
// password resets, new accounts, role changes, suspensions, addresses outside an allow list,
// settings changes, support grants, tenant key destructions, freezes (and their lapse) and
// terminations, four-eyes decisions, data-subject requests past their due date, failed
// backups, off-site copies, rotations, restore drills and corrupt backups [F4], and read
// budgets spent [B16], changes to the alert settings themselves, and the breach register's
// new incidents and 72-hour clock (12 hours left, overdue) [F2].
var DefaultActions = []string{
	"auth.lockout", "security.ban", "auth.2fa_enabled", "auth.2fa_reset", "auth.password_reset",
	"auth.recovery_code_used", "user.create", "user.update", "user.suspend", "security.denied_address",
	"security.unban", "security.blocklist", "settings.update", "grant.create", "tenant.key_destroy",
	"tenant.freeze", "tenant.freeze_lapsed", "tenant.terminate",
	"approval.approved", "approval.rejected", "request.overdue",
	"backup.failed", "backup.copy_failed", "backup.rotation_refused", "backup.corrupt", "backup.stalled", "drill.failed",
	"erasure.purge_blocked",
	"security.read_budget", "alerts.update",
	"node.down", "node.up",
	"incident.create", "incident.deadline_near", "incident.overdue",
}

// Rule says which audit actions raise an alert and where it goes: an e-mail address, a
// webhook, or both.
type Rule struct {
	Actions []string
	Email   string // "" for no e-mail
	// Language is the language of the e-mail (one of skjold.Languages; "" for English).
	Language string
	Webhook  *Webhook // nil for no webhook
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
	rules   atomic.Pointer[[]Rule]
	mailer  skjold.Mailer
	log     *slog.Logger
	queue   chan Alert
	dropped atomic.Int64
	failed  atomic.Int64
}

// NewDispatcher returns a dispatcher for rules; mailer sends the e-mail ones.
func NewDispatcher(rules []Rule, mailer skjold.Mailer, log *slog.Logger) *Dispatcher {
	d := &Dispatcher{mailer: mailer, log: log.With("component", "alert"), queue: make(chan Alert, 1000)}
	d.SetRules(rules)
	return d
}

// SetRules replaces the rules; alerts already queued go by the new ones.
func (d *Dispatcher) SetRules(rules []Rule) { d.rules.Store(&rules) }

func (d *Dispatcher) currentRules() []Rule { return *d.rules.Load() }

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
	for _, r := range d.currentRules() {
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
	for _, r := range d.currentRules() {
		if !slices.Contains(r.Actions, a.Action) {
			continue
		}
		if r.Email != "" {
			d.retry(ctx, "email", func(ctx context.Context) error { return d.mailer.Send(ctx, message(r.Email, r.Language, a)) })
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

// message writes the alert e-mail in lang: labels in the reader's language, values (the
// action, ids, field names) as the audit log has them.
func message(to, lang string, a Alert) skjold.Message {
	cat := i18n.Mail(lang)
	lines := [][2]string{{"action", a.Action}, {"time", a.Time.UTC().Format(time.RFC3339)}, {"actor", a.Actor}}
	if a.TenantID != "" {
		lines = append(lines, [2]string{"tenant", a.TenantID})
	}
	if a.Source != "" {
		lines = append(lines, [2]string{"source", a.Source})
	}
	lines = append(lines, [2]string{"detail", strings.Join(a.Fields, ", ")})
	width := 0
	for _, l := range lines {
		width = max(width, utf8.RuneCountInString(cat.T("mail.alert."+l[0])))
	}
	var b strings.Builder
	b.WriteString(cat.T("mail.alert.intro") + "\n\n")
	for _, l := range lines {
		label := cat.T("mail.alert." + l[0])
		fmt.Fprintf(&b, "%s:%s %s\n", label, strings.Repeat(" ", width-utf8.RuneCountInString(label)), l[1])
	}
	b.WriteString("\n" + cat.T("mail.alert.outro") + "\n")
	return skjold.Message{To: to, Subject: cat.T("mail.alert.subject", "action", a.Action), Body: b.String()}
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
