package netguard

import (
	"context"
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
	KindOverload     = "overload"      // a login refused (503) because password checks were saturated
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
//   - 100 requests from outside an allow list within 1 minute;
//   - 20 logins refused for want of a free password check within 1 minute.
func DefaultRules() []Rule {
	return []Rule{
		{KindLoginFailed, 10, 10 * time.Minute},
		{KindTokenInvalid, 20, 10 * time.Minute},
		{KindTenantProbe, 5, 10 * time.Minute},
		{KindUnauthorized, 100, time.Minute},
		{KindNotFound, 100, time.Minute},
		{KindDenied, 100, time.Minute},
		{KindOverload, 20, time.Minute},
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

	// IPv6Prefix is the prefix length by which IPv6 addresses are counted and banned; 0 for
	// 64. One host or customer line is usually given a whole /64, so counting each address
	// would let an attacker rotate through 2^64 of them. 128 counts each address.
	IPv6Prefix int
	// WidestIPv6Prefix and WidenAfter escalate to wider prefixes: when WidenAfter IPv6
	// prefixes (default 3) within one prefix 8 bits shorter are banned within Remember, that
	// prefix is banned too, and so on up to WidestIPv6Prefix (default 48, a typical site
	// allocation). A prefix banned again while its last ban is remembered is banned for
	// longer instead, and does not count again towards the wider one.
	WidestIPv6Prefix int
	WidenAfter       int

	// BanLoopback lets loopback addresses (127.0.0.0/8, ::1) be banned. It is off by default
	// so that tests, health checks and admins working on the host itself cannot lock
	// themselves out; behind a reverse proxy on the same host, pass the client's address.
	BanLoopback bool
}

// Ban is a ban a Detector decides: a prefix (a single address is a /32 or /128), its length
// and the rule that caused it.
type Ban struct {
	Prefix netip.Prefix
	For    time.Duration
	Rule   string
}

// Detector turns a stream of security events into bans of their sources, one Tracker per
// rule, so each rule counts and escalates on its own. It is safe for concurrent use.
type Detector struct {
	// Shared, when set, keeps every rule's windows in a store all nodes share; nil counts on
	// this node only. OnSharedError hears of a failed shared update (the event then counts
	// here).
	Shared        SharedState
	OnSharedError func(error)

	rules       []detectorRule
	banLoopback bool
	ipv6Prefix  int
	widest      int
	widen       *Tracker // counts bans per wider IPv6 prefix
}

// SharedState keeps the detectors' windows where every node counts into them (the database),
// so that events spread over several nodes count as they would on one.
type SharedState interface {
	// UpdateWindow applies step to the state of rule and key atomically across processes: no
	// other update of the same rule and key runs between its read and its write.
	UpdateWindow(ctx context.Context, rule, key string, step func(st *TrackState)) error
}

// widenRule names the tracker of wider IPv6 prefixes in a SharedState.
const widenRule = "widen"

// sharedTimeout bounds one update of the shared state; past it the event counts on this node.
const sharedTimeout = 5 * time.Second

// fail counts one failure of key at now for rule: in d.Shared when set, else (or when the
// shared state cannot be reached) in the rule's own tracker on this node.
func (d *Detector) fail(rule string, t *Tracker, key string, now time.Time) (ban time.Duration, strikes int) {
	if d.Shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		defer cancel()
		err := d.Shared.UpdateWindow(ctx, rule, key, func(st *TrackState) { ban, strikes = t.step(&st.e, now) })
		if err == nil {
			return ban, strikes
		}
		if d.OnSharedError != nil {
			d.OnSharedError(err)
		}
	}
	return t.fail(key, now)
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
	d := &Detector{banLoopback: cfg.BanLoopback, ipv6Prefix: ipv6Bits(cfg.IPv6Prefix), widest: cfg.WidestIPv6Prefix}
	if d.widest <= 0 || d.widest > d.ipv6Prefix {
		d.widest = min(48, d.ipv6Prefix)
	}
	for _, r := range rules {
		t := NewTracker(Config{
			Threshold: r.Threshold, Window: r.Window, BaseBan: cfg.BaseBan, MaxBan: cfg.MaxBan,
			Remember: cfg.Remember, MaxKeys: cfg.MaxKeys,
		})
		// Name the rule with the settings in force, defaults included.
		r.Threshold, r.Window = t.cfg.Threshold, t.cfg.Window
		d.rules = append(d.rules, detectorRule{name: r.String(), kind: r.Kind, tracker: t})
	}
	widenAfter := cfg.WidenAfter
	if widenAfter <= 0 {
		widenAfter = 3
	}
	remember := NewTracker(Config{Remember: cfg.Remember}).cfg.Remember
	d.widen = NewTracker(Config{Threshold: widenAfter, Window: remember, BaseBan: cfg.BaseBan, MaxBan: cfg.MaxBan,
		Remember: remember, MaxKeys: cfg.MaxKeys})
	return d
}

// ipv6Bits returns the IPv6 counting prefix for a configured value: 64 for 0, else n within
// 1…128.
func ipv6Bits(n int) int {
	if n <= 0 {
		return 64
	}
	return min(n, 128)
}

// Source returns the prefix by which a counts as a source of events, bans and password checks:
// an IPv4 address by itself (/32, IPv4-mapped addresses count as IPv4), an IPv6 address by its
// ipv6Prefix (0 for 64). The invalid Addr gives the invalid Prefix.
func Source(a netip.Addr, ipv6Prefix int) netip.Prefix {
	a = normalAddr(a)
	if !a.IsValid() {
		return netip.Prefix{}
	}
	bits := a.BitLen()
	if a.Is6() {
		bits = ipv6Bits(ipv6Prefix)
	}
	p, _ := a.Prefix(bits)
	return p
}

// Source returns the prefix by which d counts a (see the function Source).
func (d *Detector) Source(a netip.Addr) netip.Prefix { return Source(a, d.ipv6Prefix) }

// Observe counts e against the rules for its kind and returns the bans to apply: none, or
// the ban of e.Addr's source prefix (Source) when a rule trips (if several trip at once, the
// longest), followed by any wider IPv6 prefixes that this ban completes (see
// DetectorConfig.WidenAfter). Events of kinds without a rule, from the invalid Addr, or from
// a loopback address unless BanLoopback is set, are ignored. The caller stores the bans and
// applies them with Guard.Ban(b.Prefix, e.Time.Add(b.For)).
func (d *Detector) Observe(e Event) []Ban {
	addr := normalAddr(e.Addr)
	if !addr.IsValid() || (addr.IsLoopback() && !d.banLoopback) {
		return nil
	}
	src := d.Source(addr)
	var key string
	var ban Ban
	strikes := 0
	for _, r := range d.rules {
		if r.kind != e.Kind {
			continue
		}
		if key == "" {
			key = src.String()
		}
		if b, n := d.fail(r.name, r.tracker, key, e.Time); n > 0 && b > ban.For {
			ban, strikes = Ban{Prefix: src, For: b, Rule: r.name}, n
		}
	}
	if ban.For == 0 {
		return nil
	}
	bans := []Ban{ban}
	// Only a prefix's first ban in its escalation counts towards its wider prefix: widening
	// answers an attacker moving between prefixes, while one that stays is banned for longer.
	for p := src; strikes == 1 && p.Addr().Is6() && p.Bits() > d.widest; {
		p, _ = p.Addr().Prefix(max(p.Bits()-8, d.widest))
		var b time.Duration
		if b, strikes = d.fail(widenRule, d.widen, p.String(), e.Time); strikes == 0 {
			break
		}
		bans = append(bans, Ban{Prefix: p, For: max(b, ban.For), Rule: "widened after repeated bans: " + ban.Rule})
	}
	return bans
}
