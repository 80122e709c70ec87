package skjold

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Request types [C1–C7].
const (
	RequestAccess          = "access"
	RequestRectification   = "rectification"
	RequestErasure         = "erasure"
	RequestRestriction     = "restriction"
	RequestObjection       = "objection"
	RequestPortability     = "portability"
	RequestConsentWithdraw = "consent_withdrawal"
)

// Request statuses [C9].
const (
	StatusReceived             = "received"
	StatusAwaitingVerification = "awaiting_verification"
	StatusInProgress           = "in_progress"
	StatusAwaitingApproval     = "awaiting_approval"
	StatusExtended             = "extended"
	StatusCompleted            = "completed"
	StatusRefused              = "refused"
)

// Refusal reason codes: a refused request must name one [C9].
const (
	RefusalIdentityNotVerified = "identity_not_verified"
	RefusalManifestlyUnfounded = "manifestly_unfounded"
	RefusalExcessive           = "excessive"
	RefusalLegalObligation     = "legal_obligation"
	RefusalRightsOfOthers      = "rights_of_others"
	RefusalOther               = "other"
)

// RequestDeadline is the time a controller has to answer; it can be extended by at most
// MaxExtensionMonths more, with a reason (GDPR Art. 12(3)).
const (
	RequestDeadlineMonths = 1
	MaxExtensionMonths    = 2
)

// Request is a data-subject request and its progress. It names the subject by id only.
type Request struct {
	ID              string         `json:"id"`
	SubjectID       string         `json:"subject_id"`
	Type            string         `json:"type"`
	Status          string         `json:"status"`
	Purpose         string         `json:"purpose,omitempty"` // consent withdrawal: which purpose
	ReceivedAt      time.Time      `json:"received_at"`
	DueAt           time.Time      `json:"due_at"`
	Overdue         bool           `json:"overdue"`
	ExtensionReason string         `json:"extension_reason,omitempty"`
	RefusalCode     string         `json:"refusal_code,omitempty"`
	RefusalNote     string         `json:"refusal_note,omitempty"`
	VerifiedAt      *time.Time     `json:"verified_at,omitempty"`
	ClosedAt        *time.Time     `json:"closed_at,omitempty"`
	Result          *RequestResult `json:"result,omitempty"`
	CreatedBy       string         `json:"created_by"`
}

// RequestResult says what a completed request did, without personal values.
type RequestResult struct {
	Erasure     *ErasureReport `json:"erasure,omitempty"`
	DownloadURL string         `json:"download_url,omitempty"` // access, portability: shown once
	ExpiresAt   *time.Time     `json:"download_expires_at,omitempty"`
	Changed     []string       `json:"changed,omitempty"` // rectification: the fields written
}

// SubjectLookup finds the subject a request is about: by exactly one of e-mail, phone or
// the tenant's reference.
type SubjectLookup struct {
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
	Ref   string `json:"ref,omitempty"`
}

// Rectification is what a rectification request writes: profile changes and record changes
// by record id (a nil value removes a field).
type Rectification struct {
	Subject SubjectUpdate             `json:"subject"`
	Records map[string]map[string]any `json:"records,omitempty"`
}

// RequestFilter selects requests by type, status, whether they are open or closed, and
// whether they are overdue; an empty field selects every request.
type RequestFilter struct {
	Type    string
	Status  string
	State   string // RequestOpen or RequestClosed
	Overdue bool
	Page
}

// Request states a RequestFilter selects by: open (not yet completed or refused) or closed.
const (
	RequestOpen   = "open"
	RequestClosed = "closed"
)

// PrivacyNotice holds the facts a subject is told in an access package [G5]: who the
// controller is, whom data goes to, where it is stored, and where to complain.
type PrivacyNotice struct {
	Controller           string   `json:"controller"`
	Contact              string   `json:"contact"`
	SupervisoryAuthority string   `json:"supervisory_authority"`
	Recipients           []string `json:"recipients"`
	StorageLocation      string   `json:"storage_location"`
	// Language is the language of the e-mails the tenant's data subjects get from Skjold
	// (verification codes, download links) [I3]: one of Languages; empty reads as English.
	Language string `json:"language"`
}

// RequestService runs data-subject requests. Every method but VerifyRequest and Download
// acts within the caller's tenant.
type RequestService interface {
	// OpenRequest finds the subject, stores r as awaiting verification with a due date one
	// month on, and sends a one-time code to the e-mail address on file [C8], or by SMS to the
	// phone number on file when there is no address and an SMS sender is configured.
	// Errors: EINVALID, ENOTFOUND (no such subject), ECONFLICT (nowhere to send the code), EFORBIDDEN.
	OpenRequest(ctx context.Context, r *Request, who SubjectLookup) error

	// VerifyRequest checks the one-time code; a request is verified once, within the code's
	// lifetime and attempt limit. It needs no caller: the code is the credential.
	// Errors: ENOTFOUND, EINVALID (wrong code), ETOOMANY (attempts used up), ECONFLICT.
	VerifyRequest(ctx context.Context, id, code string) (*Request, error)

	// ResendCode sends a fresh one-time code. Errors: ENOTFOUND, ECONFLICT, ETOOMANY.
	ResendCode(ctx context.Context, id string) error

	// FindRequestByID returns one request. Errors: ENOTFOUND, EFORBIDDEN.
	FindRequestByID(ctx context.Context, id string) (*Request, error)

	// FindRequests returns requests ordered by id. Errors: EINVALID, EFORBIDDEN.
	FindRequests(ctx context.Context, f RequestFilter) ([]*Request, error)

	// ExtendRequest moves the due date by months (in all at most MaxExtensionMonths) with a
	// reason. Errors: EINVALID, ENOTFOUND, ECONFLICT (closed), EFORBIDDEN.
	ExtendRequest(ctx context.Context, id string, months int, reason string) (*Request, error)

	// RefuseRequest closes a request as refused with a reason code and note.
	// Errors: EINVALID, ENOTFOUND, ECONFLICT (closed), EFORBIDDEN.
	RefuseRequest(ctx context.Context, id, code, note string) (*Request, error)

	// CompleteRequest carries out a verified request — hands over the access package,
	// applies the rectification, erases, restricts, records the objection or withdraws the
	// consent — and closes it. Errors: EINVALID, ENOTFOUND, ECONFLICT (not verified, or
	// closed), EFORBIDDEN.
	CompleteRequest(ctx context.Context, id string, fix *Rectification) (*Request, error)

	// Download returns a hand-over copy by its link's secret, once. It needs no caller.
	// Errors: ENOTFOUND (unknown, used or expired).
	Download(ctx context.Context, secret string) (name string, content []byte, err error)

	// PrivacyNotice and PutPrivacyNotice read and set the tenant's privacy facts.
	PrivacyNotice(ctx context.Context) (*PrivacyNotice, error)
	PutPrivacyNotice(ctx context.Context, n *PrivacyNotice) error
}

// RequestTypes lists every request type.
var RequestTypes = []string{RequestAccess, RequestConsentWithdraw, RequestErasure, RequestObjection,
	RequestPortability, RequestRectification, RequestRestriction}

// RefusalCodes lists every refusal reason code.
var RefusalCodes = []string{RefusalExcessive, RefusalIdentityNotVerified, RefusalLegalObligation,
	RefusalManifestlyUnfounded, RefusalOther, RefusalRightsOfOthers}

// Limits on what a request and the privacy notice carry.
const (
	MaxRequestNote      = 1000 // refusal note, extension reason
	MaxNoticeText       = 1000 // each privacy notice field
	MaxNoticeRecipients = 50
)

// Closed reports whether a request has ended: completed or refused.
func (r *Request) Closed() bool { return r.Status == StatusCompleted || r.Status == StatusRefused }

// ValidateRequestType returns EINVALID naming "type" unless t is a request type.
func ValidateRequestType(t string) error {
	if !slices.Contains(RequestTypes, t) {
		return FieldError("type", "enum", "type must be one of %s", strings.Join(RequestTypes, ", "))
	}
	return nil
}

// ValidateRefusal checks a refusal's reason code and note.
func ValidateRefusal(code, note string) error {
	if !slices.Contains(RefusalCodes, code) {
		return FieldError("code", "enum", "code must be one of %s", strings.Join(RefusalCodes, ", "))
	}
	if utf8.RuneCountInString(note) > MaxRequestNote {
		return FieldError("note", "length", "note must be at most %d characters", MaxRequestNote)
	}
	if code == RefusalOther && strings.TrimSpace(note) == "" {
		return FieldError("note", "required", "a refusal with code other needs a note saying why")
	}
	return nil
}

// ValidateExtension checks an extension's months (1 or 2) and reason.
func ValidateExtension(months int, reason string) error {
	if months < 1 || months > MaxExtensionMonths {
		return FieldError("months", "range", "months must be between 1 and %d", MaxExtensionMonths)
	}
	if strings.TrimSpace(reason) == "" {
		return FieldError("reason", "required", "an extension needs a reason")
	}
	if utf8.RuneCountInString(reason) > MaxRequestNote {
		return FieldError("reason", "length", "reason must be at most %d characters", MaxRequestNote)
	}
	return nil
}

// Validate checks the lengths of the notice's texts and the number of recipients.
func (n *PrivacyNotice) Validate() error {
	for _, f := range [...]struct{ name, v string }{{"controller", n.Controller}, {"contact", n.Contact},
		{"supervisory_authority", n.SupervisoryAuthority}, {"storage_location", n.StorageLocation}} {
		if utf8.RuneCountInString(f.v) > MaxNoticeText {
			return FieldError(f.name, "length", "%s must be at most %d characters", f.name, MaxNoticeText)
		}
	}
	if n.Language != "" && !ValidLanguage(n.Language) {
		return FieldError("language", "language", "language must be one of %v", Languages)
	}
	if len(n.Recipients) > MaxNoticeRecipients {
		return FieldError("recipients", "length", "recipients must list at most %d entries", MaxNoticeRecipients)
	}
	for i, r := range n.Recipients {
		if strings.TrimSpace(r) == "" || utf8.RuneCountInString(r) > MaxNoticeText {
			return FieldError(fmt.Sprintf("recipients[%d]", i), "length", "each recipient must be 1 to %d characters", MaxNoticeText)
		}
	}
	return nil
}
