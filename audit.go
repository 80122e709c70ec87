package skjold

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// AuditEvent is one entry of the append-only, hash-chained audit log. It names who did what
// to which object, which fields, for which purpose, from where; it never holds a personal
// value. Hash is HMAC-SHA-256, under an audit key the master key seals, over PrevHash and the
// event's canonical encoding (plain SHA-256 for events made before the chain was keyed).
type AuditEvent struct {
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor"`
	TenantID  string    `json:"tenant_id,omitempty"`
	SubjectID string    `json:"subject_id,omitempty"`
	RecordID  string    `json:"record_id,omitempty"`
	Action    string    `json:"action"`
	Fields    []string  `json:"fields"`
	Purpose   string    `json:"purpose,omitempty"`
	Source    string    `json:"source,omitempty"`
	PrevHash  []byte    `json:"prev_hash"`
	Hash      []byte    `json:"hash"`
}

// AuditFilter selects audit events: of one subject, by one actor, of one action, in a time
// range [Since, Until), after a sequence number, at most Limit. Newest lists the newest
// events first (a page of the console) instead of the oldest.
type AuditFilter struct {
	SubjectID    string
	Actor        string // "user:<id>", "token:<id>", … as AuditEvent.Actor
	Action       string // e.g. subject.read
	Security     bool   // only security events (IsSecurityAction)
	Since, Until time.Time
	After        int64
	Limit        int
	Newest       bool
}

// SecurityActionPrefixes begin the actions of security events: sign-ins, bans and refusals,
// changes of accounts, four-eyes decisions and support grants.
var SecurityActionPrefixes = []string{"auth.", "security.", "user.", "approval.", "grant."}

// IsSecurityAction reports whether action is a security event's.
func IsSecurityAction(action string) bool {
	for _, p := range SecurityActionPrefixes {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}

// Normalize sets the default limit and checks the filter, naming the field at fault.
func (f *AuditFilter) Normalize() error {
	if f.Limit == 0 {
		f.Limit = DefaultPageLimit
	}
	switch {
	case f.Limit < 0 || f.Limit > MaxPageLimit:
		return FieldError("limit", "range", "limit must be between 1 and %d", MaxPageLimit)
	case f.After < 0:
		return FieldError("after", "range", "after must be a sequence number, 0 or more")
	case f.SubjectID != "" && !ValidID(f.SubjectID):
		return FieldError("subject_id", "id", "subject_id must be an id")
	case len(f.Actor) > 200:
		return FieldError("actor", "length", "actor must be at most 200 characters")
	case f.Action != "" && !validAction(f.Action):
		return FieldError("action", "action", "action must be an event name such as subject.read")
	case !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since):
		return FieldError("until", "range", "until must be after since")
	}
	return nil
}

// ChainReport sums up a verified audit chain.
type ChainReport struct {
	Length    int64  // number of events
	Head      []byte // hash of the last event
	KeyedFrom int64  // the first event hashed with the audit key; earlier ones predate it
	// Checkpoints is how many of the given checkpoints matched the chain; Superseded how many
	// were taken before a restore, of a chain beyond what the restore brought back.
	Checkpoints, Superseded int
}

// AuditCheckpoint is a signed statement that the audit chain held Seq events ending in Head at
// Time [F3]. The server writes one at least every minute to a file outside the database, which
// is copied to every backup target, so that removing events from the end of the chain (and
// fixing the stored head) is detected by whoever verifies the chain against the checkpoints.
// MAC is HMAC-SHA-256 under a key derived from the audit key, which Key names.
type AuditCheckpoint struct {
	Seq  int64     `json:"seq"`
	Head []byte    `json:"head"`
	Time time.Time `json:"time"`
	Key  string    `json:"key"`
	MAC  []byte    `json:"mac"`
}

// CheckpointFile is the file of audit checkpoints (JSON lines of AuditCheckpoint), in the data
// directory and on every backup target beside the erasure journal.
const CheckpointFile = "audit-checkpoints.jsonl"

// ChainError names the first broken link of the audit chain.
type ChainError struct {
	Seq    int64
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit chain broken at event %d: %s", e.Seq, e.Reason)
}

// AuditService reads and verifies the audit log. Events are appended by the other services
// in the same transaction as the change they record.
type AuditService interface {
	// FindAuditEvents returns events of the caller's tenant (every event for an operator),
	// ordered by sequence number. Errors: EINVALID, EFORBIDDEN.
	FindAuditEvents(ctx context.Context, f AuditFilter) ([]*AuditEvent, error)

	// VerifyAuditChain walks the whole chain as one consistent snapshot (events appended
	// meanwhile are not seen). It returns a *ChainError naming the first event that was
	// altered, removed or reordered.
	VerifyAuditChain(ctx context.Context) (ChainReport, error)
}

// validAction reports whether a is shaped like an audit action: lower-case words of letters,
// digits and underscores joined by dots, at most 64 characters.
func validAction(a string) bool {
	if len(a) > 64 {
		return false
	}
	for _, part := range strings.Split(a, ".") {
		if part == "" {
			return false
		}
		for _, r := range part {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
				return false
			}
		}
	}
	return true
}
