package skjold

import (
	"context"
	"net"
	"strings"
	"time"
)

// Subprocessor is one entry of the operator's sub-processor register [G2]: a business the
// operator engages to process tenants' data, the service it provides and why, where it
// processes the data, and the host names through which Skjold reaches it (used to find
// configured relays and backup targets that no entry covers). Effective is when it may start
// processing; tenant owners are e-mailed SubprocessorNoticeDays before it.
type Subprocessor struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Service    string     `json:"service"`
	Purpose    string     `json:"purpose"`
	Location   string     `json:"location"` // country (and place), e.g. "Norway (Oslo)"
	Hosts      []string   `json:"hosts"`    // host names, e.g. smtp.relay.example
	Contract   string     `json:"contract_date"`
	Effective  string     `json:"effective_date"` // YYYY-MM-DD
	CreatedAt  time.Time  `json:"created_at"`
	NotifiedAt *time.Time `json:"notified_at,omitempty"` // when the tenant owners were e-mailed
	// Objections are the tenants' objections: all of them for the operator, the caller's own
	// tenant's for a tenant.
	Objections []*SubprocessorObjection `json:"objections"`
}

// SubprocessorObjection is a tenant owner's objection to a sub-processor.
type SubprocessorObjection struct {
	TenantID   string    `json:"tenant_id"`
	TenantName string    `json:"tenant_name,omitempty"`
	UserID     string    `json:"user_id"`
	Reason     string    `json:"reason"`
	CreatedAt  time.Time `json:"created_at"`
}

// DefaultSubprocessorNoticeDays is how many days before a new sub-processor takes effect the
// tenant owners are told, unless the configuration says otherwise.
const DefaultSubprocessorNoticeDays = 30

// ProcessorHost is a host the installation hands data to (an SMTP relay, an SMS gateway, a
// backup target), which the sub-processor register should cover [G2].
type ProcessorHost struct {
	Role string `json:"role"` // smtp_relay, sms_gateway, backup_s3, backup_sftp
	Host string `json:"host"`
}

// HostOf returns the host name of an address such as host:port, https://host/path or host.
func HostOf(addr string) string {
	a := strings.TrimSpace(addr)
	if i := strings.Index(a, "://"); i >= 0 {
		a = a[i+3:]
	}
	if i := strings.IndexAny(a, "/?#"); i >= 0 {
		a = a[:i]
	}
	if i := strings.LastIndex(a, "@"); i >= 0 {
		a = a[i+1:]
	}
	if h, _, err := net.SplitHostPort(a); err == nil {
		a = h
	}
	return strings.ToLower(strings.Trim(a, "[]."))
}

// ParseDate parses a calendar date YYYY-MM-DD.
func ParseDate(field, s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, FieldError(field, "date", "%s must be a date such as 2027-01-31", field)
	}
	return t, nil
}

// Validate returns an EINVALID error naming the field at fault, and normalises the hosts.
func (s *Subprocessor) Validate() error {
	for _, f := range []struct {
		name, v  string
		min, max int
	}{{"name", s.Name, 1, 200}, {"service", s.Service, 1, 200}, {"purpose", s.Purpose, 1, 500}, {"location", s.Location, 2, 200}} {
		if err := checkText(f.name, f.v, f.min, f.max); err != nil {
			return err
		}
	}
	if _, err := ParseDate("contract_date", s.Contract); err != nil {
		return err
	}
	if _, err := ParseDate("effective_date", s.Effective); err != nil {
		return err
	}
	if len(s.Hosts) > 20 {
		return FieldError("hosts", "range", "hosts holds at most 20 host names")
	}
	hosts := make([]string, 0, len(s.Hosts))
	for _, h := range s.Hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		if len(h) > 253 || strings.ContainsAny(h, " /:@") || strings.IndexFunc(h, func(r rune) bool { return r < '!' || r > '~' }) >= 0 {
			return FieldError("hosts", "host", "hosts must be host names such as smtp.example.com")
		}
		hosts = append(hosts, h)
	}
	s.Hosts = hosts
	return nil
}

// Covers reports whether the entry lists host, or a parent domain of it.
func (s *Subprocessor) Covers(host string) bool {
	for _, h := range s.Hosts {
		if host == h || strings.HasSuffix(host, "."+h) {
			return true
		}
	}
	return false
}

// DPA methods of acceptance.
const (
	DPAConsole = "console" // accepted by the owner in the console (or the API)
	DPAScan    = "scan"    // a signed scan was uploaded
)

// MaxDPAScan is the largest signed scan accepted, in bytes.
const MaxDPAScan = 10 << 20

// DPAAcceptance is one acceptance of a version of a tenant's data processing agreement [G1].
type DPAAcceptance struct {
	ID         string    `json:"id"`
	Version    string    `json:"version"`
	Method     string    `json:"method"`  // console or scan
	UserID     string    `json:"user_id"` // the owner who accepted
	AcceptedAt time.Time `json:"accepted_at"`
	ScanSHA256 string    `json:"scan_sha256,omitempty"` // hex; scan only
	ScanSize   int64     `json:"scan_size,omitempty"`
}

// DPAFacts are the live facts a tenant's data processing agreement is written from; their
// document.DataVersion is the agreement's version.
type DPAFacts struct {
	Processor     string                   `json:"processor"`  // the operator (Issuer)
	Controller    string                   `json:"controller"` // the tenant's name
	TenantID      string                   `json:"tenant_id"`
	Subprocessors []DPASubprocessor        `json:"subprocessors"`
	Categories    []DPACategory            `json:"categories"`
	Purposes      []string                 `json:"purposes"`
	NoticeDays    int                      `json:"notice_days"` // see SubprocessorNoticeDays
	Storage       string                   `json:"storage"`     // engine and where: "PostgreSQL", "SQLite"
	Profile       ComplianceProfile        `json:"profile"`     // the measures promised (Annex 3)
	Objections    []*SubprocessorObjection `json:"-"`
}

// DPASubprocessor is the part of a register entry the agreement's annex lists.
type DPASubprocessor struct {
	Name      string `json:"name"`
	Service   string `json:"service"`
	Purpose   string `json:"purpose"`
	Location  string `json:"location"`
	Effective string `json:"effective_date"`
}

// DPACategory is one category of data in the annex: its name, number of fields, purposes
// and legal basis. (Retention periods are proven by the D1 check, not agreed here.)
type DPACategory struct {
	Name       string   `json:"name"`
	Purposes   []string `json:"purposes"`
	LegalBasis string   `json:"legal_basis"`
	Fields     int      `json:"fields"`
}

// DPAStatus is a tenant's agreement: its current version, the document in the caller's
// language, and the acceptances. Current is true when the newest acceptance is of Version.
type DPAStatus struct {
	Version     string           `json:"version"`
	Current     bool             `json:"current"`
	Accepted    *DPAAcceptance   `json:"accepted,omitempty"` // the newest acceptance
	Acceptances []*DPAAcceptance `json:"acceptances"`
	Facts       *DPAFacts        `json:"facts"`
}

// DPAService keeps the sub-processor register and the tenants' data processing agreements.
type DPAService interface {
	// Subprocessors lists the register, oldest first, to any authenticated caller.
	Subprocessors(ctx context.Context) ([]*Subprocessor, error)
	// AddSubprocessor adds an entry. Errors: EINVALID, EFORBIDDEN (not an operator).
	AddSubprocessor(ctx context.Context, s *Subprocessor) error
	// RemoveSubprocessor removes an entry. Errors: ENOTFOUND, EFORBIDDEN.
	RemoveSubprocessor(ctx context.Context, id string) error
	// ObjectToSubprocessor records the caller's tenant's objection (its owner's). Errors:
	// ENOTFOUND, EINVALID, ECONFLICT (already objected), EFORBIDDEN.
	ObjectToSubprocessor(ctx context.Context, id, reason string) error
	// DPA returns the caller's tenant's agreement. Errors: EFORBIDDEN (not an admin).
	DPA(ctx context.Context) (*DPAStatus, error)
	// AcceptDPA records the owner's acceptance of version, which must be the current one.
	// Errors: ECONFLICT (not the current version), EFORBIDDEN (not the owner).
	AcceptDPA(ctx context.Context, version string) (*DPAAcceptance, error)
	// UploadDPAScan stores a signed scan (a PDF of at most MaxDPAScan bytes) of version,
	// sealed under the tenant key, as an acceptance. Errors: EINVALID, ECONFLICT, EFORBIDDEN.
	UploadDPAScan(ctx context.Context, version string, pdf []byte) (*DPAAcceptance, error)
	// DPAScan returns the scan of an acceptance of the caller's tenant. Errors: ENOTFOUND.
	DPAScan(ctx context.Context, id string) ([]byte, error)
}

// CheckText returns an EINVALID error naming field when s is not valid UTF-8, holds control
// characters, or its length in characters is outside [min, max].
func CheckText(field, s string, min, max int) error { return checkText(field, s, min, max) }
