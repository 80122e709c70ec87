package netguard

import (
	"fmt"
	"net/netip"
	"time"
)

// Kinds of security event a Detector watches.
const (
	KindLoginFailed  = "login_failed"  // a wrong password or one-time code
	KindTokenInvalid = "token_invalid" // a bearer token that is unknown, expired or revoked
	KindNotFound     = "not_found"     // an API request answered 404
	KindUnauthorized = "unauthorized"  // an API request answered 401
	KindTenantProbe  = "tenant_probe"  // a request for an object of another tenant
	KindDenied       = "denied"        // a request from outside an allow list
)

// Event is one security event: what happened, from which address, and when.
type Event struct {
	Kind string
	Addr netip.Addr
	Time time.Time
}

// Rule bans an address that causes Threshold events of Kind within Window. A zero or negative
// Threshold or Window takes the Tracker default (10, 10 min).
type Rule struct {
	Kind      string
	Threshold int
	Window    time.Duration
}

// String names the rule for logs and audit events, as in "login_failed 10/10m0s".
func (r Rule) String() string {
	return fmt.Sprintf("%s %d/%s", r.Kind, r.Threshold, r.Window)
}

// DefaultRules returns the rules a Detector uses when given none:
//   - 10 failed logins within 10 minutes;
//   - 20 invalid bearer tokens within 10 minutes;
//   - 5 requests for another tenant's objects within 10 minutes;
//   - 100 API 401s, or 100 API 404s, within 1 minute;
//   - 100 requests from outside an allow list within 1 minute.
func DefaultRules() []Rule {
	return []Rule{
		{KindLoginFailed, 10, 10 * time.Minute},
		{KindTokenInvalid, 20, 10 * time.Minute},
		{KindTenantProbe, 5, 10 * time.Minute},
		{KindUnauthorized, 100, time.Minute},
		{KindNotFound, 100, time.Minute},
		{KindDenied, 100, time.Minute},
	}
}

// DetectorConfig sets up a Detector. Zero or negative durations and counts take the Tracker
// defaults (see Config).
type DetectorConfig struct {
	Rules    []Rule        // nil for DefaultRules()
	BaseBan  time.Duration // the first ban of an address
	MaxBan   time.Duration // the cap on escalated bans
	Remember time.Duration // how long after a ban ends a new one still escalates
	MaxKeys  int           // addresses tracked per rule

	// BanLoopback lets loopback addresses (127.0.0.0/8, ::1) be banned. It is off by default
	// so that tests, health checks and admins working on the host itself cannot lock
	// themselves out; behind a reverse proxy on the same host, pass the client's address.
	BanLoopback bool
}

// Detector turns a stream of security events into bans of their addresses, one Tracker per
// rule, so each rule counts and escalates on its own. It is safe for concurrent use.
type Detector struct {
	rules       []detectorRule
	banLoopback bool
}

type detectorRule struct {
	name    string
	kind    string
	tracker *Tracker
}

// NewDetector returns a Detector with cfg's rules and settings.
func NewDetector(cfg DetectorConfig) *Detector {
	rules := cfg.Rules
	if rules == nil {
		rules = DefaultRules()
	}
	d := &Detector{banLoopback: cfg.BanLoopback}
	for _, r := range rules {
		t := NewTracker(Config{
			Threshold: r.Threshold, Window: r.Window, BaseBan: cfg.BaseBan, MaxBan: cfg.MaxBan,
			Remember: cfg.Remember, MaxKeys: cfg.MaxKeys,
		})
		// Name the rule with the settings in force, defaults included.
		r.Threshold, r.Window = t.cfg.Threshold, t.cfg.Window
		d.rules = append(d.rules, detectorRule{name: r.String(), kind: r.Kind, tracker: t})
	}
	return d
}

// Observe counts e against the rules for its kind and, when one of them trips, returns the
// ban for e.Addr, the rule's name (Rule.String) and true; if several trip at once, the longest
// ban. Events of kinds without a rule, from the invalid Addr, or from a loopback address
// unless BanLoopback is set, are ignored. The caller stores the ban and applies it with
// Guard.Ban(e.Addr, e.Time.Add(ban)).
//
// Addresses are counted one by one, IPv6 ones included; IPv4-mapped addresses count as IPv4.
func (d *Detector) Observe(e Event) (ban time.Duration, rule string, banned bool) {
	addr := normalAddr(e.Addr)
	if !addr.IsValid() || (addr.IsLoopback() && !d.banLoopback) {
		return 0, "", false
	}
	var key string
	for _, r := range d.rules {
		if r.kind != e.Kind {
			continue
		}
		if key == "" {
			key = addr.String()
		}
		if b, ok := r.tracker.Fail(key, e.Time); ok && b > ban {
			ban, rule, banned = b, r.name, true
		}
	}
	return ban, rule, banned
}
