package skjold

import (
	"context"
	"net/netip"
	"strings"
	"time"
)

// Incident is an entry of the breach register [F2]: a personal-data breach or a suspected one,
// recorded by a tenant (its own processing) or by the operator (TenantID "", affecting the
// tenants it lists). Its texts describe what happened and must hold no personal values: the
// register is read by people who may not read the data.
type Incident struct {
	ID       string `json:"id"`
	TenantID string `json:"tenant_id,omitempty"` // "" for an operator incident
	Title    string `json:"title"`
	// Description is what happened: the nature of the breach.
	Description string    `json:"description"`
	DetectedAt  time.Time `json:"detected_at"` // when the breach was detected
	AwareAt     time.Time `json:"aware_at"`    // when the controller became aware: the clock starts here
	Categories  []string  `json:"categories"`  // the categories of personal data concerned
	Subjects    int       `json:"subjects"`    // estimated number of data subjects concerned
	Records     int       `json:"records"`     // approximate number of records concerned
	// Consequences, Measures and Contact complete what Art. 33(3) asks the notification to say.
	Consequences string `json:"consequences"`
	Measures     string `json:"measures"`
	Contact      string `json:"contact"`
	// Tenants are the tenants an operator incident affects; their owners are e-mailed and
	// asked to acknowledge [Art. 33(2)]. Empty for a tenant incident and for tenant readers.
	Tenants []*IncidentTenant `json:"tenants,omitempty"`
	// ScopedSubjects is the number of subjects the last audit scoping found, if any.
	ScopedSubjects *int              `json:"scoped_subjects,omitempty"`
	Decision       *IncidentDecision `json:"decision,omitempty"`
	Status         string            `json:"status"` // open or closed
	CreatedAt      time.Time         `json:"created_at"`
	ClosedAt       *time.Time        `json:"closed_at,omitempty"`
	Clock          IncidentClock     `json:"clock"`
}

// Incident statuses.
const (
	IncidentOpen   = "open"
	IncidentClosed = "closed"
)

// IncidentTenant is a tenant an operator incident affects and whether its owners
// acknowledged the operator's notice.
type IncidentTenant struct {
	TenantID       string     `json:"tenant_id"`
	NotifiedAt     time.Time  `json:"notified_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
}

// IncidentDecision is whether the supervisory authority (Art. 33) and the data subjects
// (Art. 34) are to be notified, and why. AuthorityNotifiedAt is when the authority was told.
type IncidentDecision struct {
	NotifyAuthority     bool       `json:"notify_authority"`
	NotifySubjects      bool       `json:"notify_subjects"`
	Reason              string     `json:"reason"`
	DecidedAt           time.Time  `json:"decided_at"`
	AuthorityNotifiedAt *time.Time `json:"authority_notified_at,omitempty"`
}

// NotifyWithin is how long after becoming aware a controller has to notify the supervisory
// authority (Art. 33(1)).
const NotifyWithin = 72 * time.Hour

// IncidentWarnBefore is how long before the deadline the register raises its first alert.
const IncidentWarnBefore = 12 * time.Hour

// IncidentClock is the 72-hour clock as seen at one moment.
type IncidentClock struct {
	Deadline time.Time `json:"deadline"` // AwareAt + NotifyWithin
	// Remaining is the whole seconds left until the deadline, negative once it has passed.
	Remaining int64 `json:"remaining_seconds"`
	Overdue   bool  `json:"overdue"`
	// Stopped: the clock no longer matters, because the incident is closed, the authority was
	// notified, or it was decided not to notify it.
	Stopped bool `json:"stopped"`
}

// IncidentDeadline returns the deadline for notifying the authority about a breach the
// controller became aware of at aware.
func IncidentDeadline(aware time.Time) time.Time { return aware.Add(NotifyWithin) }

// SetClock computes the incident's clock at now.
func (i *Incident) SetClock(now time.Time) {
	d := IncidentDeadline(i.AwareAt)
	left := d.Sub(now)
	i.Clock = IncidentClock{Deadline: d, Remaining: int64(left / time.Second), Overdue: left <= 0}
	if i.Status == IncidentClosed || (i.Decision != nil && (!i.Decision.NotifyAuthority || i.Decision.AuthorityNotifiedAt != nil)) {
		i.Clock.Stopped = true
	}
}

// Validate returns an EINVALID error naming the field at fault: a title and a description,
// awareness no earlier than detection and neither in the future, counts of zero or more.
func (i *Incident) Validate(now time.Time) error {
	for _, f := range []struct {
		name     string
		v        string
		min, max int
	}{{"title", i.Title, 1, 200}, {"description", i.Description, 1, 4000}, {"consequences", i.Consequences, 0, 4000},
		{"measures", i.Measures, 0, 4000}, {"contact", i.Contact, 0, 500}} {
		if err := checkText(f.name, f.v, f.min, f.max); err != nil {
			return err
		}
	}
	switch {
	case i.DetectedAt.IsZero():
		return FieldError("detected_at", "required", "detected_at is required")
	case i.AwareAt.IsZero():
		return FieldError("aware_at", "required", "aware_at is required")
	case i.DetectedAt.After(now.Add(time.Minute)):
		return FieldError("detected_at", "future", "detected_at must not be in the future")
	case i.AwareAt.After(now.Add(time.Minute)):
		return FieldError("aware_at", "future", "aware_at must not be in the future")
	case i.AwareAt.Before(i.DetectedAt):
		return FieldError("aware_at", "range", "aware_at must not be before detected_at")
	case i.Subjects < 0 || i.Subjects > 1_000_000_000:
		return FieldError("subjects", "range", "subjects must be between 0 and 1000000000")
	case i.Records < 0 || i.Records > 1_000_000_000_000:
		return FieldError("records", "range", "records must be between 0 and 1000000000000")
	case len(i.Categories) > 50:
		return FieldError("categories", "length", "at most 50 categories")
	}
	for _, c := range i.Categories {
		if err := checkText("categories", c, 1, 100); err != nil {
			return err
		}
	}
	return nil
}

// IncidentEntry is one line of an incident's timeline: what was done, when, by whom. The
// timeline is append-only.
type IncidentEntry struct {
	Seq   int64     `json:"seq"`
	Time  time.Time `json:"time"`
	Actor string    `json:"actor"`
	// Kind is what the entry records: note (written by a person), created, decision, scope,
	// acknowledged, closed.
	Kind string `json:"kind"`
	Text string `json:"text"`
}

// IncidentScope asks the audit chain which subjects and fields one token, user or client
// address touched in [Since, Until). Exactly one of Token, User and Address is set.
type IncidentScope struct {
	Token   string    `json:"token,omitempty"`
	User    string    `json:"user,omitempty"`
	Address string    `json:"address,omitempty"`
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
}

// Validate returns an EINVALID error naming the field at fault.
func (q *IncidentScope) Validate() error {
	set := 0
	for _, v := range []string{q.Token, q.User, q.Address} {
		if v != "" {
			set++
		}
	}
	switch {
	case set != 1:
		return FieldError("token", "one_of", "give exactly one of token, user and address")
	case q.Token != "" && !ValidID(q.Token):
		return FieldError("token", "id", "token must be a token id")
	case q.User != "" && !ValidID(q.User):
		return FieldError("user", "id", "user must be a user id")
	case q.Since.IsZero():
		return FieldError("since", "required", "since is required")
	case q.Until.IsZero():
		return FieldError("until", "required", "until is required")
	case !q.Until.After(q.Since):
		return FieldError("until", "range", "until must be after since")
	}
	if q.Address != "" {
		if _, err := netip.ParseAddr(strings.TrimSpace(q.Address)); err != nil {
			return FieldError("address", "ip", "address must be an IP address")
		}
	}
	return nil
}

// Actor returns the audit actor the scope asks about, or "" for an address.
func (q *IncidentScope) Actor() string {
	switch {
	case q.Token != "":
		return "token:" + q.Token
	case q.User != "":
		return "user:" + q.User
	}
	return ""
}

// IncidentScopeResult is what the audit chain says the scoped actor touched: ids, field names
// and counts, never a personal value.
type IncidentScopeResult struct {
	Events   int `json:"events"`   // matching audit events
	Subjects int `json:"subjects"` // distinct subjects among them
	// SubjectIDs lists the subjects, at most MaxScopeSubjects of them (Truncated says more).
	SubjectIDs []string     `json:"subject_ids"`
	Truncated  bool         `json:"truncated"`
	Fields     []ScopeCount `json:"fields"`  // field names and how many events named each
	Actions    []ScopeCount `json:"actions"` // actions and how many events had each
}

// ScopeCount is a name with a count.
type ScopeCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// MaxScopeSubjects caps the subject ids a scoping lists.
const MaxScopeSubjects = 1000

// IncidentService keeps the breach register. A tenant caller needs the admin scope and sees
// its tenant's incidents and the operator incidents that affect it (read only, without the
// other tenants); an operator caller sees operator incidents, and needs operator.manage to
// change them.
type IncidentService interface {
	// CreateIncident records an incident (a tenant's, or the operator's with tenants to
	// notify) and starts its timeline. Errors: EINVALID, EFORBIDDEN, ENOTFOUND (a tenant).
	CreateIncident(ctx context.Context, inc *Incident, tenants []string) error
	// FindIncidents returns the incidents the caller sees, newest first. Errors: EFORBIDDEN.
	FindIncidents(ctx context.Context) ([]*Incident, error)
	// FindIncident returns one incident. Errors: ENOTFOUND, EFORBIDDEN.
	FindIncident(ctx context.Context, id string) (*Incident, error)
	// IncidentTimeline returns an incident's entries, oldest first. Errors: ENOTFOUND, EFORBIDDEN.
	IncidentTimeline(ctx context.Context, id string) ([]*IncidentEntry, error)
	// AddIncidentEntry appends a note to the timeline. Errors: EINVALID, ENOTFOUND,
	// EFORBIDDEN, ECONFLICT (closed).
	AddIncidentEntry(ctx context.Context, id, text string) (*IncidentEntry, error)
	// DecideIncident records (or changes) the notification decision; authorityNotified marks
	// the authority as told now. Errors: EINVALID, ENOTFOUND, EFORBIDDEN, ECONFLICT (closed).
	DecideIncident(ctx context.Context, id string, d IncidentDecision, authorityNotified bool) (*Incident, error)
	// ScopeIncident answers q from the audit chain (the caller's tenant's events; every
	// tenant's for an operator), stores the subject count on the incident and notes it in the
	// timeline. Errors: EINVALID, ENOTFOUND, EFORBIDDEN, ECONFLICT (closed).
	ScopeIncident(ctx context.Context, id string, q IncidentScope) (*IncidentScopeResult, error)
	// CloseIncident closes an incident with a closing note. Errors: EINVALID, ENOTFOUND,
	// EFORBIDDEN, ECONFLICT (already closed).
	CloseIncident(ctx context.Context, id, note string) (*Incident, error)
	// AcknowledgeIncident records that the caller's tenant took note of an operator incident
	// that affects it. Errors: ENOTFOUND, EFORBIDDEN, ECONFLICT (acknowledged already).
	AcknowledgeIncident(ctx context.Context, id string) (*Incident, error)
}

// CheckIncidentText returns an EINVALID error naming field unless s is a register text: 1 to
// 4000 characters of valid UTF-8 without control characters other than newlines and tabs.
func CheckIncidentText(field, s string) error { return checkText(field, s, 1, 4000) }
