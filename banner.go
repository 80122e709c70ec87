package skjold

import (
	"context"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The consent banner [H2, A2] is a small script a tenant embeds on its own website with one
// <script> tag. It asks visitors for the consent purposes the tenant chose for the banner,
// keeps scripts tagged with a purpose from running until the visitor consents, honours
// Global Privacy Control as an opt-out, and stores a consent receipt in Skjold as proof:
// a random consent id, the choices, the notice versions shown, the time and a keyed hash of
// the user agent. No address and no raw user agent is stored.

// BannerSettings are a tenant's settings for its website's consent banner.
type BannerSettings struct {
	// Origins are the website origins (scheme://host[:port]) that may fetch the banner's
	// configuration and post receipts (CORS); empty: the banner answers no website.
	Origins []string `json:"origins"`
	// Purposes are the consent purposes the banner asks for, in this order.
	Purposes []string `json:"purposes"`
	// RetentionDays is how long a receipt is kept; 0 in a change means the default.
	RetentionDays int `json:"retention_days"`
}

// DefaultReceiptDays is how long a consent receipt is kept unless the tenant says otherwise:
// a banner's choice is asked again after 13 months at most, and its proof outlives it by a
// month.
const DefaultReceiptDays = 425

// Limits of the banner's settings and receipts.
const (
	MaxBannerOrigins  = 20
	MaxBannerPurposes = 20
	MaxReceiptDays    = 3650
)

// Receipt methods: how the visitor made the choice a receipt records.
const (
	ReceiptAcceptAll = "accept_all"
	ReceiptRejectAll = "reject_all"
	ReceiptChoose    = "choose"
	ReceiptGPC       = "gpc" // Global Privacy Control opted out without a click
)

// ReceiptMethods lists every receipt method.
var ReceiptMethods = []string{ReceiptAcceptAll, ReceiptChoose, ReceiptGPC, ReceiptRejectAll}

// BannerPurpose is one purpose as the banner shows it.
type BannerPurpose struct {
	Name          string `json:"name"`
	Description   string `json:"description,omitempty"`
	Notice        string `json:"notice"`
	NoticeVersion int    `json:"notice_version"`
}

// BannerConfig is what the banner of a tenant needs: who may embed it and what it asks.
type BannerConfig struct {
	Origins  []string         `json:"-"`
	Purposes []*BannerPurpose `json:"purposes"`
}

// ConsentReceipt is the proof of one choice made on a tenant's banner.
type ConsentReceipt struct {
	ID string `json:"id"`
	// ConsentID is the random id the visitor's browser keeps for the banner (32 hex digits).
	ConsentID      string          `json:"consent_id"`
	Method         string          `json:"method"`
	Choices        map[string]bool `json:"choices"`
	NoticeVersions map[string]int  `json:"notice_versions"`
	// GPC is set when the browser sent Global Privacy Control; every choice is then false.
	GPC bool `json:"gpc"`
	// UserAgentHash is a keyed hash (HMAC-SHA-256 under a key of the tenant) of the user
	// agent, hex: it tells two receipts of one browser apart from others, and nothing more.
	UserAgentHash string    `json:"user_agent_hash"`
	CreatedAt     time.Time `json:"created_at"`
	ExpiresAt     time.Time `json:"expires_at"`
}

// ConsentStat counts the receipts that accepted and rejected one purpose.
type ConsentStat struct {
	Purpose  string `json:"purpose"`
	Accepted int    `json:"accepted"`
	Rejected int    `json:"rejected"`
}

// ConsentStats are the banner's figures over a period.
type ConsentStats struct {
	Since    time.Time      `json:"since"`
	Receipts int            `json:"receipts"`
	GPC      int            `json:"gpc"`
	Purposes []*ConsentStat `json:"purposes"`
}

// MaxReceiptExport bounds the receipts one export returns.
const MaxReceiptExport = 100_000

// BannerService keeps the banner's settings and receipts.
type BannerService interface {
	// BannerConfig returns the banner of the tenant with this id: its origins and the
	// purposes it asks for, each with its notice in force. It needs no caller.
	// Errors: ENOTFOUND.
	BannerConfig(ctx context.Context, tenantID string) (*BannerConfig, error)

	// StoreConsentReceipt validates r against the tenant's banner, hashes userAgent under
	// the tenant's key, and stores r with its id, time and expiry set. With r.GPC set every
	// choice is stored as false. It needs no caller. Errors: EINVALID (nothing stored).
	StoreConsentReceipt(ctx context.Context, tenantID string, r *ConsentReceipt, userAgent string) error

	// BannerSettings returns the caller's tenant's banner settings (the defaults when none
	// are set). Errors: EFORBIDDEN.
	BannerSettings(ctx context.Context) (*BannerSettings, error)

	// PutBannerSettings replaces them; it needs the admin scope, and every purpose must be
	// registered and based on consent. Errors: EINVALID, EFORBIDDEN.
	PutBannerSettings(ctx context.Context, s *BannerSettings) error

	// FindConsentReceipts returns the caller's tenant's receipts made in [from, to), oldest
	// first, at most MaxReceiptExport, as proof; the export is audited. Errors: EFORBIDDEN,
	// EINVALID (a period over MaxReceiptExport receipts).
	FindConsentReceipts(ctx context.Context, from, to time.Time) ([]*ConsentReceipt, error)

	// ConsentStats counts the caller's tenant's receipts since the time given, per purpose
	// of its banner. Errors: EFORBIDDEN.
	ConsentStats(ctx context.Context, since time.Time) (*ConsentStats, error)
}

var consentIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// ValidConsentID reports whether s is a banner's consent id: 32 lower-case hex digits.
func ValidConsentID(s string) bool { return consentIDRE.MatchString(s) }

// NormalizeOrigin returns the origin (scheme://host[:port], lower-cased) that s names, and
// false when s is not an http or https origin with nothing after the host.
func NormalizeOrigin(s string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", false
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), true
}

// Validate normalises the origins, sets the default retention for 0, and returns an
// EINVALID error naming the first part that is wrong.
func (s *BannerSettings) Validate() error {
	if len(s.Origins) > MaxBannerOrigins {
		return FieldError("origins", "max", "at most %d origins", MaxBannerOrigins)
	}
	for i, o := range s.Origins {
		n, ok := NormalizeOrigin(o)
		if !ok {
			return FieldError("origins", "origin", "an origin is a scheme and host such as https://www.example.com, with no path")
		}
		if slices.Contains(s.Origins[:i], n) {
			return FieldError("origins", "duplicate", "origin %s is listed twice", n)
		}
		s.Origins[i] = n
	}
	if len(s.Purposes) > MaxBannerPurposes {
		return FieldError("purposes", "max", "at most %d purposes", MaxBannerPurposes)
	}
	for i, p := range s.Purposes {
		if !ValidName(p) {
			return FieldError("purposes", "name", "purposes must be purpose names")
		}
		if slices.Contains(s.Purposes[:i], p) {
			return FieldError("purposes", "duplicate", "purpose %s is listed twice", p)
		}
	}
	if s.RetentionDays == 0 {
		s.RetentionDays = DefaultReceiptDays
	}
	if s.RetentionDays < 1 || s.RetentionDays > MaxReceiptDays {
		return FieldError("retention_days", "range", "retention_days must be 1 to %d", MaxReceiptDays)
	}
	if s.Origins == nil {
		s.Origins = []string{}
	}
	if s.Purposes == nil {
		s.Purposes = []string{}
	}
	return nil
}

// Validate checks a receipt against the banner it was made on: a consent id, a known
// method, a choice for every purpose the banner asks and no other, and for each the notice
// version shown, which must exist. It returns an EINVALID error naming the first part that
// is wrong.
func (r *ConsentReceipt) Validate(b *BannerConfig) error {
	if !ValidConsentID(r.ConsentID) {
		return FieldError("consent_id", "consent_id", "consent_id must be 32 lower-case hex digits")
	}
	if !slices.Contains(ReceiptMethods, r.Method) {
		return FieldError("method", "method", "method must be one of %v", ReceiptMethods)
	}
	if len(r.Choices) != len(b.Purposes) || len(r.NoticeVersions) != len(b.Purposes) {
		return FieldError("choices", "purposes", "choices and notice_versions must name every purpose of the banner, and no other")
	}
	for _, p := range b.Purposes {
		if _, ok := r.Choices[p.Name]; !ok {
			return FieldError("choices", "purposes", "choices must name every purpose of the banner, and no other")
		}
		if v, ok := r.NoticeVersions[p.Name]; !ok || v < 1 || v > p.NoticeVersion {
			return FieldError("notice_versions", "version", "notice_versions must give each purpose's notice version shown")
		}
	}
	if r.Method == ReceiptGPC && !r.GPC {
		return FieldError("gpc", "gpc", "the gpc method needs gpc")
	}
	return nil
}
