package skjold

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Compliance document kinds [G3, G4].
const (
	DocTOMs = "toms" // technical and organisational measures [G4]
	DocRoPA = "ropa" // records of processing activities, Art. 30 [G3]
)

// DocumentKinds lists the compliance documents Skjold generates.
var DocumentKinds = []string{DocTOMs, DocRoPA}

// Kinds of organisational measure the operator or a tenant records [G4].
const (
	MeasureTraining   = "training"          // data-protection training held
	MeasureAgreements = "agreements"        // confidentiality and processing agreements signed
	MeasurePhysical   = "physical"          // physical security of premises and servers
	MeasureIncident   = "incident_response" // incident response plan or rehearsal
	MeasurePolicy     = "policy"            // written policies adopted or reviewed
	MeasureOther      = "other"
)

// MeasureKinds lists every kind of organisational measure.
var MeasureKinds = []string{MeasureTraining, MeasureAgreements, MeasurePhysical, MeasureIncident, MeasurePolicy, MeasureOther}

// MaxMeasureText bounds an organisational measure's description.
const MaxMeasureText = 1000

// OrgMeasure is an organisational measure entered once by the operator (TenantID "") or a
// tenant's admin and shown with its date in the TOMs document [G4]: e.g. "annual training
// for support staff" held on 2026-11-20. Its text is for customers: no personal data.
type OrgMeasure struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Description string    `json:"description"`
	Date        string    `json:"date"` // YYYY-MM-DD: when it was taken, held or last reviewed
	CreatedAt   time.Time `json:"created_at"`
}

// Validate returns an EINVALID error naming the field at fault.
func (m *OrgMeasure) Validate() error {
	m.Description = strings.TrimSpace(m.Description)
	switch {
	case !slices.Contains(MeasureKinds, m.Kind):
		return FieldError("kind", "enum", "kind must be one of %s", strings.Join(MeasureKinds, ", "))
	case m.Description == "" || len(m.Description) > MaxMeasureText:
		return FieldError("description", "length", "description must be 1 to %d characters", MaxMeasureText)
	}
	if _, err := time.Parse(time.DateOnly, m.Date); err != nil || len(m.Date) != 10 {
		return FieldError("date", "date", "date must be a calendar date such as 2026-11-20")
	}
	return nil
}

// SubProcessor is a service the operator's installation hands personal data to, or keeps it
// at: a storage location, an e-mail relay, a backup target [G2]. It holds no secret.
type SubProcessor struct {
	Name     string `json:"name"`
	Service  string `json:"service"` // storage, email, backup
	Location string `json:"location"`
}

// DocumentFacts is the live state a compliance document is written from, for the operator
// (Operator true) or one tenant: the checks with their evidence, the settings in force, the
// registers and the organisational measures.
type DocumentFacts struct {
	Operator   bool            `json:"operator"`
	TenantID   string          `json:"tenant_id,omitempty"`
	Name       string          `json:"name"` // the tenant's name; empty for the operator
	Checks     ComplianceScope `json:"checks"`
	CheckedAt  time.Time       `json:"checked_at"` // when the checks read live state
	Settings   SessionSettings `json:"settings"`
	Notice     *PrivacyNotice  `json:"notice,omitempty"` // the tenant's privacy facts; nil for the operator
	Purposes   []*Purpose      `json:"purposes"`
	Categories []*Category     `json:"categories"`
	Subjects   int             `json:"subjects"` // data subjects the tenant holds
	Measures   []*OrgMeasure   `json:"measures"`
	// Tenants are the controllers the operator processes for (operator documents only).
	Tenants       []*Tenant      `json:"tenants,omitempty"`
	Engine        string         `json:"engine"` // sqlite or postgres
	SubProcessors []SubProcessor `json:"sub_processors"`
}

// ComplianceDocumentService gathers the facts of the compliance documents and keeps the
// organisational measures. The operator's staff act for the operator; a tenant's admins for
// their tenant.
type ComplianceDocumentService interface {
	// DocumentFacts returns the facts of the caller's scope; an operator caller may name a
	// tenant (tenantID non-empty) to read that tenant's. SubProcessors is left empty: the
	// caller fills it from the installation's configuration. Errors: EUNAUTHORIZED,
	// EFORBIDDEN (not an admin), ENOTFOUND (no such tenant).
	DocumentFacts(ctx context.Context, tenantID string) (*DocumentFacts, error)

	// OrgMeasures lists the caller's scope's organisational measures, newest date first.
	// Errors: EUNAUTHORIZED, EFORBIDDEN.
	OrgMeasures(ctx context.Context) ([]*OrgMeasure, error)

	// AddOrgMeasure records an organisational measure and sets its id and time (audited).
	// Errors: EINVALID, EFORBIDDEN (operator.manage or a tenant admin needed).
	AddOrgMeasure(ctx context.Context, m *OrgMeasure) error

	// DeleteOrgMeasure removes one (audited). Errors: ENOTFOUND, EFORBIDDEN.
	DeleteOrgMeasure(ctx context.Context, id string) error
}
