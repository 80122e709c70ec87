package skjold

import (
	"context"
	"slices"
	"strings"
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
	// CheckStatedPurpose returns nil when the caller states no purpose, or one its tenant
	// registered and the caller may state [A2]. Errors: EINVALID (field purpose, rule
	// registered) for a purpose not in the register, EFORBIDDEN for one outside the caller's
	// token's or profile's purposes.
	CheckStatedPurpose(ctx context.Context) error

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

// ConsentSources lists every consent source.
var ConsentSources = []string{SourceAPI, SourceImport, SourcePortal, SourceRequest}

// Contact-check reasons: why a subject may not be contacted.
const (
	ReasonChannelNotAllowed = "channel_not_allowed" // the purpose does not use the channel
	ReasonNoAddress         = "no_address"          // the subject has no address for the channel
	ReasonRestricted        = "restricted"          // the subject's processing is restricted
	ReasonNoConsent         = "no_consent"          // a consent purpose without consent in force
	ReasonObjected          = "objected"            // a legitimate-interest purpose the subject objected to
	ReasonCapReached        = "cap_reached"         // the frequency cap is used up
)

// MaxNotice is the longest notice text, in characters.
const MaxNotice = 10000

// Validate returns an EINVALID error naming the first part of the purpose that is wrong. A
// purpose based on consent needs the notice text its subjects are shown.
func (p *Purpose) Validate() error {
	if !ValidName(p.Name) {
		return FieldError("name", "name", "purpose name must be lower-case letters, digits and underscores, starting with a letter")
	}
	if !slices.Contains(legalBases, p.LegalBasis) {
		return FieldError("legal_basis", "legal_basis", "legal_basis must be one of %v", legalBases)
	}
	if err := checkText("description", p.Description, 0, 1000); err != nil {
		return err
	}
	if err := checkText("notice", p.Notice, 0, MaxNotice); err != nil {
		return err
	}
	if p.LegalBasis == BasisConsent && strings.TrimSpace(p.Notice) == "" {
		return FieldError("notice", "required", "a purpose based on consent needs the notice text subjects are shown")
	}
	for i, ch := range p.Channels {
		if !slices.Contains(Channels, ch) {
			return FieldError("channels", "channel", "channels may hold only %v", Channels)
		}
		if slices.Contains(p.Channels[:i], ch) {
			return FieldError("channels", "duplicate", "channel %q is listed twice", ch)
		}
	}
	if p.Cap != nil {
		return p.Cap.validate()
	}
	return nil
}

func (c *FrequencyCap) validate() error {
	if c.Max < 1 || c.Max > 10000 {
		return FieldError("cap", "max", "cap.max must be 1 to 10000")
	}
	if _, err := ParsePeriod(c.Period); err != nil {
		return FieldError("cap", "period", "cap.period must be an ISO 8601 period such as P1M or P1Y")
	}
	return nil
}

// Validate returns an EINVALID error naming the first part of the consent that is wrong. The
// subject and the purpose are the store's to look up.
func (c *Consent) Validate() error {
	if !ValidName(c.Purpose) {
		return FieldError("purpose", "name", "purpose must be a purpose name")
	}
	if !slices.Contains(ConsentSources, c.Source) {
		return FieldError("source", "source", "source must be one of %v", ConsentSources)
	}
	return nil
}

// Validate returns an EINVALID error naming the first part of the check that is wrong.
func (c *ContactCheck) Validate() error {
	if !ValidName(c.Purpose) {
		return FieldError("purpose", "name", "purpose must be a purpose name")
	}
	if !slices.Contains(Channels, c.Channel) {
		return FieldError("channel", "channel", "channel must be one of %v", Channels)
	}
	return nil
}

// purposeBases are the legal bases of the purposes the template categories name; a purpose
// not listed is based on legitimate interest.
var purposeBases = map[string]string{"contract": BasisContract, "accounting": BasisLegalObligation}

// PurposeTemplates returns fresh copies of the purposes every new tenant starts with: each
// purpose its template categories name, the newsletter (consent, e-mail, at most 12 a year)
// and legal_claims. A tenant may change them with PutPurpose.
func PurposeTemplates() []*Purpose {
	out := []*Purpose{
		{Name: "newsletter", LegalBasis: BasisConsent, Description: "News and offers by e-mail.",
			Notice:   "We send you our newsletter by e-mail, at most once a month. You can withdraw your consent at any time.",
			Channels: []string{ChannelEmail}, Cap: &FrequencyCap{Max: 12, Period: "P1Y"}},
		{Name: PurposeLegalClaims, LegalBasis: BasisLegalObligation,
			Description: "Establishing, exercising or defending legal claims."},
	}
	seen := map[string]bool{"newsletter": true, PurposeLegalClaims: true}
	for _, cat := range Templates() {
		for _, name := range cat.Purposes {
			if seen[name] {
				continue
			}
			seen[name] = true
			basis := purposeBases[name]
			if basis == "" {
				basis = BasisLegitimateInterest
			}
			out = append(out, &Purpose{Name: name, LegalBasis: basis})
		}
	}
	slices.SortFunc(out, func(a, b *Purpose) int { return strings.Compare(a.Name, b.Name) })
	return out
}
