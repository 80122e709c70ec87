package skjold

import (
	"context"
	"regexp"
	"strings"
	"unicode"
)

// The privacy center is a tenant's public pages for its data subjects [C1–C9, G5], under
// /p/{slug}/: the privacy notice built from the tenant's live settings, and forms for every
// right whose requests run through the RequestService like those staff open.

// PublicTenant is what the privacy center knows of a tenant: its id, name and public slug.
type PublicTenant struct {
	ID   string
	Name string
	Slug string
}

// PublicNotice is the privacy notice's content: the tenant's privacy facts, its purpose
// register and its categories with their retention, all read live.
type PublicNotice struct {
	Tenant     *PublicTenant
	Facts      *PrivacyNotice
	Purposes   []*Purpose
	Categories []*Category
}

// Proposal fields: the profile values a rectification request proposes, and a free note.
var ProposalFields = []string{"name", "email", "phone", "birth_date", "details"}

// MaxProposalText bounds each proposed value.
const MaxProposalText = 1000

// PrivacyCenterService serves the privacy center. Its methods need no caller: the tenant is
// named by its public slug, and a request's status by the secret its verification gave.
type PrivacyCenterService interface {
	// PublicTenant returns the active tenant with this slug. Errors: ENOTFOUND.
	PublicTenant(ctx context.Context, slug string) (*PublicTenant, error)

	// PublicNotice returns what the tenant's privacy notice shows. Errors: ENOTFOUND.
	PublicNotice(ctx context.Context, tenantID string) (*PublicNotice, error)

	// OpenSubjectRequest opens a request of type r.Type for the subject named by e-mail or
	// phone, kept in language lang, through OpenRequest: a code goes to the address on file.
	// When no subject matches (or none can get a code) it does the same work and returns an
	// id all the same, so that the answer tells nothing. Errors: EINVALID (bad input only).
	OpenSubjectRequest(ctx context.Context, tenantID string, r *Request, who SubjectLookup, lang string,
		proposal map[string]string) (id string, err error)

	// VerifySubjectRequest checks the code through VerifyRequest and returns the secret of
	// the request's status page. Errors: EINVALID (wrong code), ETOOMANY, ECONFLICT.
	VerifySubjectRequest(ctx context.Context, tenantID, id, code string) (secret string, err error)

	// SubjectRequestStatus returns the request a status secret names. Errors: ENOTFOUND.
	SubjectRequestStatus(ctx context.Context, tenantID, secret string) (*Request, error)

	// SubjectDownload hands over the request's access package, once, as Download does.
	// Errors: ENOTFOUND (none ready, used or expired).
	SubjectDownload(ctx context.Context, tenantID, secret string) (name string, content []byte, err error)

	// RequestProposal returns the values a rectification request proposes, for staff.
	// Errors: ENOTFOUND, EFORBIDDEN.
	RequestProposal(ctx context.Context, id string) (map[string]string, error)

	// SetPublicSlug sets the caller's tenant's public slug; it needs the admin scope.
	// Errors: EINVALID, ECONFLICT (taken), EFORBIDDEN.
	SetPublicSlug(ctx context.Context, slug string) error

	// PublicSlug returns the caller's tenant's public slug. Errors: EFORBIDDEN.
	PublicSlug(ctx context.Context) (string, error)
}

var slugRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$`)

// ValidSlug reports whether s can be a public slug: 1 to 40 lower-case letters, digits and
// inner hyphens.
func ValidSlug(s string) bool { return slugRE.MatchString(s) }

// SlugOf derives a slug from a tenant's name: ASCII letters and digits, lower-cased, other
// runs turned into one hyphen; "tenant" when nothing is left.
func SlugOf(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch r {
		case 'æ':
			r = 'a'
		case 'ø', 'ó':
			r = 'o'
		case 'å', 'ą':
			r = 'a'
		case 'ł':
			r = 'l'
		case 'ę':
			r = 'e'
		case 'ś':
			r = 's'
		case 'ć':
			r = 'c'
		case 'ń':
			r = 'n'
		case 'ż', 'ź':
			r = 'z'
		}
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			if b.Len() >= 36 {
				break
			}
			continue
		}
		dash = true
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		return "tenant"
	}
	return s
}
