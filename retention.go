package skjold

import (
	"context"
	"time"
)

// Customer relationship states of a subject. Retention periods counted from the end of the
// relationship start when it ends; a prospect who never became a customer (an enquiry)
// expires on its own [A6].
const (
	RelationshipProspect = "prospect"
	RelationshipActive   = "active"
	RelationshipEnded    = "ended"
)

// Default lifetimes of data that needs no category setting: an enquiry subject without a
// relationship [A6], and a hand-over copy such as an access package [D3].
const (
	DefaultProspectDays = 30
	DefaultHandoverDays = 28
)

// Erasure reasons written to the erasure journal.
const (
	ErasedOnRequest     = "request"
	ErasedByRetention   = "retention"
	ErasedOnTermination = "termination"
)

// Hold is a legal hold [D2]: while it is in force, the records it covers are not erased,
// not by retention and not on request. SubjectID "" holds the whole tenant; Category ""
// holds every category.
type Hold struct {
	ID         string     `json:"id"`
	SubjectID  string     `json:"subject_id,omitempty"`
	Category   string     `json:"category,omitempty"`
	Reason     string     `json:"reason"`
	Until      *time.Time `json:"until,omitempty"` // nil: until released
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ReleasedAt *time.Time `json:"released_at,omitempty"`
}

// Validate returns an EINVALID error naming the first field of a new hold that is wrong:
// an id of the wrong shape, a reason that is empty or over 500 characters, or an end that is
// not after now. Whether the subject and category exist is for the store to check.
func (h *Hold) Validate(now time.Time) error {
	if h.SubjectID != "" && !ValidID(h.SubjectID) {
		return FieldError("subject_id", "id", "subject_id must be a subject's id")
	}
	if h.Category != "" && !ValidName(h.Category) {
		return FieldError("category", "name", "category must be a category's name")
	}
	if h.Category == SubjectCategory {
		return FieldError("category", "reserved", "the subject category is the profile: a hold keeps records of other categories")
	}
	if err := checkText("reason", h.Reason, 1, 500); err != nil {
		return err
	}
	if h.Until != nil && !h.Until.After(now) {
		return FieldError("until", "future", "until must be in the future; leave it out to hold until released")
	}
	return nil
}

// Kept is a group of a subject's records an erasure had to keep, and why [C3].
type Kept struct {
	Category string     `json:"category"`
	Count    int        `json:"count"`
	Reason   string     `json:"reason"`          // e.g. "legal_obligation: invoice kept P5Y from invoice_date"
	Until    *time.Time `json:"until,omitempty"` // nil: until a legal hold is released
}

// ErasureReport tells what an erasure did: records erased, what was kept and why, and
// whether the subject is gone entirely (its data key destroyed).
type ErasureReport struct {
	SubjectID string    `json:"subject_id"`
	Erased    int       `json:"erased_records"`
	Kept      []Kept    `json:"kept"`
	Complete  bool      `json:"complete"`
	Time      time.Time `json:"time"`
	// PurgePending is true when earlier versions of the erased data may still be in SQLite's
	// write-ahead log, because a reader kept the checkpoint from finishing: the server retries
	// in the background and raises erasure.purge_blocked if it cannot within a minute [D4].
	PurgePending bool `json:"purge_pending,omitempty"`
}

// SweepReport sums up one retention sweep.
type SweepReport struct {
	Started        time.Time      `json:"started"`
	Finished       time.Time      `json:"finished"`
	ErasedRecords  int            `json:"erased_records"`
	ErasedSubjects int            `json:"erased_subjects"`
	ByCategory     map[string]int `json:"by_category"` // "tenant/category" → records erased
	Downloads      int            `json:"expired_downloads"`
	// ConsentReceipts counts the banner's consent receipts whose retention ended.
	ConsentReceipts int `json:"expired_consent_receipts"`
}

// RetentionDue is one record (or, with RecordID "", one subject) that retention will erase
// at DueAt unless a hold stops it.
type RetentionDue struct {
	SubjectID string    `json:"subject_id"`
	RecordID  string    `json:"record_id,omitempty"`
	Category  string    `json:"category"`
	DueAt     time.Time `json:"due_at"`
}

// JournalEntry is one line of the erasure journal: pseudonymous ids only.
type JournalEntry struct {
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"time"`
	TenantID  string    `json:"tenant_id"`
	SubjectID string    `json:"subject_id,omitempty"` // "" for a whole tenant
	Kind      string    `json:"kind"`                 // subject or tenant
	Reason    string    `json:"reason"`
}

// RetentionService erases what must go and keeps what must stay [C3, D1–D4].
type RetentionService interface {
	// EraseSubject erases a subject of the caller's tenant: its data key is destroyed and its
	// rows deleted, except records under a statutory retention (a legal-obligation category
	// still within its period) or a legal hold, which stay restricted until the hold ends.
	// The erasure is written to the erasure journal and the audit chain.
	// Errors: ENOTFOUND, ECONFLICT (guardian of a minor), EFORBIDDEN.
	EraseSubject(ctx context.Context, id, reason string) (*ErasureReport, error)

	// PlaceHold, FindHolds and ReleaseHold manage the caller's tenant's legal holds.
	// Errors: EINVALID, ENOTFOUND, EFORBIDDEN.
	PlaceHold(ctx context.Context, h *Hold) error
	FindHolds(ctx context.Context) ([]*Hold, error)
	ReleaseHold(ctx context.Context, id string) error

	// SetRelationship moves a subject of the caller's tenant between prospect, active and
	// ended; ending it starts the periods counted from its end. Errors: EINVALID, ENOTFOUND.
	SetRelationship(ctx context.Context, subjectID, state string) error

	// PlanRetention lists what retention will erase in the caller's tenant within days, by
	// due date. Errors: EINVALID, EFORBIDDEN.
	PlanRetention(ctx context.Context, days int) ([]*RetentionDue, error)

	// Sweep erases every expired record, subject, hand-over copy and consent receipt of every tenant, in
	// batches of at most batch rows per transaction, and appends its report to the audit
	// chain. It is run by the server's scheduler, not by callers.
	Sweep(ctx context.Context, batch int) (*SweepReport, error)

	// FindJournal returns erasure journal entries after seq, oldest first, at most limit.
	FindJournal(ctx context.Context, after int64, limit int) ([]*JournalEntry, error)
}
