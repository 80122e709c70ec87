package skjold

import (
	"context"
	"fmt"
	"time"
)

// AuditEvent is one entry of the append-only, hash-chained audit log. It names who did what
// to which object, which fields, for which purpose, from where; it never holds a personal
// value. Hash is SHA-256 over PrevHash and the event's canonical encoding.
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

// AuditFilter selects audit events: of one subject, after a sequence number, at most Limit.
type AuditFilter struct {
	SubjectID string
	After     int64
	Limit     int
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
	}
	return nil
}

// ChainReport sums up a verified audit chain.
type ChainReport struct {
	Length int64  // number of events
	Head   []byte // hash of the last event
}

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

	// VerifyAuditChain walks the whole chain. It returns a *ChainError naming the first event
	// that was altered, removed or reordered.
	VerifyAuditChain(ctx context.Context) (ChainReport, error)
}
