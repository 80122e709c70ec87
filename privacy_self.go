package skjold

import (
	"context"
	"time"
)

// The subject's own view on the privacy center [C1, C7, H2]: after a code login the subject
// sees the data held about them, their consents (and grants or withdraws them), and who
// accessed their data. The login only proves who the subject is; what the pages show and
// change goes through the same services the API uses, with the subject as the caller.

// SubjectSessionLifetime is how long a subject's login lasts; it is not extended by use.
const SubjectSessionLifetime = 15 * time.Minute

// SubjectActorPrefix begins the audit actor of a subject acting on their own data.
const SubjectActorPrefix = "subject:"

// SubjectAccess is one entry of a subject's "who accessed my data" list, built from an
// audit event about the subject. It names no person: only the kind of accessor, the role of
// a tenant's staff member, and what was done, to which fields, for which purpose.
type SubjectAccess struct {
	Seq      int64
	Time     time.Time
	Accessor string   // AccessorStaff, AccessorOperator, AccessorSystem, AccessorSubject, AccessorRequester
	Role     string   // a staff member's role (agent, admin, …); "" otherwise
	Action   string   // the audit action, e.g. subject.read
	Fields   []string // field names only, never values
	Purpose  string   // the purpose stated, if any
}

// Kinds of accessor in a subject's access list.
const (
	AccessorStaff     = "staff"     // a person of the tenant
	AccessorOperator  = "operator"  // the operator's support staff, under a support grant
	AccessorSystem    = "system"    // an API integration (token) or Skjold itself
	AccessorSubject   = "subject"   // the subject, on the privacy center
	AccessorRequester = "requester" // a request about the subject, or its download
)

// SubjectSelfService lets a data subject log in to the privacy center with a one-time code
// and read the audit trail of their own data. The tenant is named by id (from its public
// slug) and the subject by the session secret; no method needs a caller.
type SubjectSelfService interface {
	// StartSubjectLogin finds the subject named by exactly one of e-mail or phone and mails
	// a one-time code to the e-mail address on file, in language lang. When no subject
	// matches, none can get a code, or the subject had too many codes lately, it does the
	// same work and returns an id all the same, so the answer tells nothing.
	// Errors: EINVALID (bad input only).
	StartSubjectLogin(ctx context.Context, tenantID string, who SubjectLookup, lang string) (id string, err error)

	// VerifySubjectLogin checks the code of login id and returns the secret of a session
	// of SubjectSessionLifetime. Errors: EINVALID (wrong code, or no such login),
	// ETOOMANY (too many wrong codes: the code is void), ECONFLICT (expired).
	VerifySubjectLogin(ctx context.Context, tenantID, id, code string) (secret string, err error)

	// SubjectSession returns the context of the subject a session secret names, acting on
	// their own data in the tenant (audited as SubjectActorPrefix + id), and the subject's
	// id. Errors: ENOTFOUND (unknown, ended or expired).
	SubjectSession(ctx context.Context, tenantID, secret string) (sctx context.Context, subjectID string, err error)

	// SubjectData reads everything the caller's tenant holds about the subject, as the
	// access package does (no purpose withholding: it is the subject's own data), and
	// audits it. The subject's pages call it with SubjectSession's context.
	// Errors: ENOTFOUND, EFORBIDDEN.
	SubjectData(ctx context.Context, subjectID string) (*SubjectData, error)

	// EndSubjectSession ends a session; an unknown secret is not an error.
	EndSubjectSession(ctx context.Context, tenantID, secret string) error

	// SubjectAccessLog returns the accesses to the subject's data by others, newest first,
	// at most limit, older than sequence number before (0: from the newest).
	// Errors: EINVALID.
	SubjectAccessLog(ctx context.Context, tenantID, subjectID string, before int64, limit int) ([]*SubjectAccess, error)
}
