package skjold

import (
	"context"
	"time"
)

// PurposeLegalClaims is the purpose under which a restricted subject's data may still be
// read: establishing, exercising or defending legal claims [C4].
const PurposeLegalClaims = "legal_claims"

// Contact channels a purpose may use to reach subjects.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
	ChannelPhone = "phone"
	ChannelPost  = "post"
)

// Channels lists every contact channel.
var Channels = []string{ChannelEmail, ChannelPhone, ChannelPost, ChannelSMS}

// Purpose is one entry of a tenant's purpose register [A2]: why personal data is processed,
// on which legal basis, and, for purposes that contact subjects, on which channels and how
// often [H2].
type Purpose struct {
	Name        string `json:"name"`
	LegalBasis  string `json:"legal_basis"`
	Description string `json:"description,omitempty"`
	// Notice is the text shown to subjects when their consent is asked. Changing it starts a
	// new NoticeVersion; every version stays readable as proof.
	Notice        string        `json:"notice,omitempty"`
	NoticeVersion int           `json:"notice_version"`
	Channels      []string      `json:"channels,omitempty"` // empty: the purpose contacts nobody
	Cap           *FrequencyCap `json:"cap,omitempty"`      // nil: no frequency cap
	UpdatedAt     time.Time     `json:"updated_at"`
}

// FrequencyCap limits how many messages a purpose sends one subject within a period, e.g.
// at most 12 newsletters a year: {Max: 12, Period: "P1Y"}.
type FrequencyCap struct {
	Max    int    `json:"max"`
	Period string `json:"period"` // ISO 8601
}

// Consent sources.
const (
	SourceAPI     = "api"
	SourcePortal  = "portal"
	SourceImport  = "import"
	SourceRequest = "request" // a data-subject request withdrew it
)

// Consent is one grant or withdrawal of a subject's consent to a purpose [C7]. The newest
// one per purpose is in force; all of them are kept as evidence while the subject exists.
type Consent struct {
	ID            string    `json:"id"`
	SubjectID     string    `json:"subject_id"`
	Purpose       string    `json:"purpose"`
	Granted       bool      `json:"granted"`
	Source        string    `json:"source"`
	NoticeVersion int       `json:"notice_version"`   // the notice the subject saw
	Notice        string    `json:"notice,omitempty"` // its text, on history reads
	CreatedAt     time.Time `json:"created_at"`
}

// ContactCheck asks whether a subject may be contacted for a purpose on a channel now, and
// carries the answer [H2].
type ContactCheck struct {
	SubjectID string `json:"subject_id"`
	Purpose   string `json:"purpose"`
	Channel   string `json:"channel"`
	Record    bool   `json:"record"` // count an allowed send against the cap

	Allowed bool     `json:"allowed"`
	Reasons []string `json:"reasons"` // why not: codes such as no_consent, restricted, objected, cap_reached
	Sent    int      `json:"sent"`    // sends within the cap's period, this one included when recorded
}

// PurposeService keeps the purpose register, consent, restriction and objection, and
// guards contact with subjects. Every method acts within the caller's tenant.
type PurposeService interface {
	// FindPurposes returns the register ordered by name. Errors: EFORBIDDEN.
	FindPurposes(ctx context.Context) ([]*Purpose, error)

	// PutPurpose creates or replaces a purpose and reports whether it was created; a changed
	// notice text gets the next version. Errors: EINVALID, EFORBIDDEN.
	PutPurpose(ctx context.Context, p *Purpose) (created bool, err error)

	// RecordConsent stores a grant or withdrawal for a registered purpose with the notice
	// version in force, and sets its id and time. A withdrawal stops the purpose for the
	// subject at once. Errors: EINVALID, ENOTFOUND (subject or purpose), EFORBIDDEN.
	RecordConsent(ctx context.Context, c *Consent) error

	// FindConsents returns a subject's consent history, oldest first, each with the notice
	// text it was given under. Errors: ENOTFOUND, EFORBIDDEN.
	FindConsents(ctx context.Context, subjectID string) ([]*Consent, error)

	// SetRestriction restricts a subject's processing [C4] or lifts the restriction.
	// Errors: ENOTFOUND, EFORBIDDEN.
	SetRestriction(ctx context.Context, subjectID string, restricted bool) error

	// SetObjection records or lifts a subject's objection [C5]: every purpose based on
	// legitimate interest stops for the subject. Errors: ENOTFOUND, EFORBIDDEN.
	SetObjection(ctx context.Context, subjectID string, objected bool) error

	// CheckContact answers c in place and, when allowed and c.Record is set, records the
	// send. Errors: EINVALID, ENOTFOUND (subject or purpose), EFORBIDDEN.
	CheckContact(ctx context.Context, c *ContactCheck) error
}
