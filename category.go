package skjold

import (
	"context"
	"regexp"
	"slices"
	"time"
)

// Field types a category field may have.
const (
	TypeString   = "string"   // free text, up to 4,000 characters
	TypeDate     = "date"     // YYYY-MM-DD
	TypeDateTime = "datetime" // RFC 3339
	TypeNumber   = "number"   // JSON number
	TypeInteger  = "integer"  // JSON number without fraction
	TypeBoolean  = "boolean"  // true or false
	TypeEmail    = "email"    // an e-mail address
	TypePhone    = "phone"    // a phone number
)

var fieldTypes = []string{TypeBoolean, TypeDate, TypeDateTime, TypeEmail, TypeInteger, TypeNumber, TypePhone, TypeString}

// Legal bases a category may declare (GDPR Art. 6(1)).
const (
	BasisConsent            = "consent"
	BasisContract           = "contract"
	BasisLegalObligation    = "legal_obligation"
	BasisVitalInterest      = "vital_interest"
	BasisPublicTask         = "public_task"
	BasisLegitimateInterest = "legitimate_interest"
)

var legalBases = []string{BasisConsent, BasisContract, BasisLegalObligation, BasisLegitimateInterest, BasisPublicTask, BasisVitalInterest}

// Retention triggers: the moment a retention period is counted from.
const (
	RetentionFromCreated      = "created"          // record creation
	RetentionFromRelationship = "relationship_end" // end of the customer relationship
	RetentionFromFieldPrefix  = "field:"           // a date field of the record, e.g. "field:invoice_date"
)

// Field describes one field of a category.
type Field struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Required    bool   `json:"required,omitempty"`
	Description string `json:"description,omitempty"`
	// Purposes makes the field purpose-bound: it is returned only to a caller that states
	// one of these purposes. Empty means the field is returned for any purpose.
	Purposes []string `json:"purposes,omitempty"`
	// Allow lists the sensitive kinds (card_number, pesel, fodselsnummer, iban, password)
	// that the input guard lets through in this field.
	Allow []string `json:"allow,omitempty"`
}

// Retention says how long records of a category are kept: Period (ISO 8601, e.g. "P5Y",
// "P30D") counted from From.
type Retention struct {
	Period string `json:"period"`
	From   string `json:"from"`
}

// Category is a tenant's kind of personal record (identity, contact, invoice, …): its
// fields, the purposes it serves, its legal basis and its retention period.
type Category struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Fields      []Field   `json:"fields"`
	Purposes    []string  `json:"purposes"`
	LegalBasis  string    `json:"legal_basis"`
	Retention   Retention `json:"retention"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// SubjectCategory is the reserved category that describes the subject's own profile
// fields (ref, email, phone, name, birth_date). Its field set is fixed; a tenant may change
// their purposes, allowances and descriptions.
const SubjectCategory = "subject"

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// ValidName reports whether s is a valid category, field or purpose name: lower-case
// letters, digits and underscores, starting with a letter, at most 63 characters.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// Field returns the field called name, or nil.
func (c *Category) Field(name string) *Field {
	for i := range c.Fields {
		if c.Fields[i].Name == name {
			return &c.Fields[i]
		}
	}
	return nil
}

// Validate returns an EINVALID error naming the first part of the definition that is wrong.
func (c *Category) Validate() error {
	if !ValidName(c.Name) {
		return FieldError("name", "name", "category name must be lower-case letters, digits and underscores, starting with a letter")
	}
	if err := checkText("description", c.Description, 0, 1000); err != nil {
		return err
	}
	if len(c.Fields) == 0 || len(c.Fields) > 200 {
		return FieldError("fields", "length", "a category needs 1 to 200 fields")
	}
	seen := map[string]bool{}
	for i := range c.Fields {
		f := &c.Fields[i]
		if err := f.validate(); err != nil {
			return err
		}
		if seen[f.Name] {
			return FieldError("fields", "duplicate", "field %q is defined twice", f.Name)
		}
		seen[f.Name] = true
	}
	if err := validNames("purposes", c.Purposes, 1); err != nil {
		return err
	}
	if !slices.Contains(legalBases, c.LegalBasis) {
		return FieldError("legal_basis", "legal_basis", "legal_basis must be one of %v", legalBases)
	}
	return c.Retention.validate(c)
}

func (f *Field) validate() error {
	if !ValidName(f.Name) {
		return FieldError("fields", "name", "field names must be lower-case letters, digits and underscores, starting with a letter")
	}
	if !slices.Contains(fieldTypes, f.Type) {
		return FieldError("fields", "type", "field %q: type must be one of %v", f.Name, fieldTypes)
	}
	if err := checkText("description", f.Description, 0, 1000); err != nil {
		return err
	}
	if err := validNames("purposes", f.Purposes, 0); err != nil {
		return err
	}
	for _, k := range f.Allow {
		if !slices.Contains(SensitiveKinds(), k) {
			return FieldError("fields", "allow", "field %q: allow may hold only %v", f.Name, SensitiveKinds())
		}
	}
	return nil
}

func (r *Retention) validate(c *Category) error {
	if _, err := ParsePeriod(r.Period); err != nil {
		return FieldError("retention", "period", "retention.period must be an ISO 8601 period such as P30D, P6M or P5Y")
	}
	switch {
	case r.From == RetentionFromCreated, r.From == RetentionFromRelationship:
		return nil
	case len(r.From) > len(RetentionFromFieldPrefix) && r.From[:len(RetentionFromFieldPrefix)] == RetentionFromFieldPrefix:
		f := c.Field(r.From[len(RetentionFromFieldPrefix):])
		if f == nil || (f.Type != TypeDate && f.Type != TypeDateTime) {
			return FieldError("retention", "from", "retention.from names a field that is not a date field of this category")
		}
		return nil
	}
	return FieldError("retention", "from", "retention.from must be %q, %q or \"field:<date field>\"", RetentionFromCreated, RetentionFromRelationship)
}

func validNames(field string, names []string, min int) error {
	if len(names) < min || len(names) > 50 {
		return FieldError(field, "length", "%s must hold %d to 50 names", field, min)
	}
	for _, n := range names {
		if !ValidName(n) {
			return FieldError(field, "name", "%s must be lower-case names (letters, digits, underscores)", field)
		}
	}
	return nil
}

// CategoryService reads and defines a tenant's categories. Every method acts within the
// caller's tenant.
type CategoryService interface {
	// FindCategories returns every category of the tenant, ordered by name. Errors: EFORBIDDEN.
	FindCategories(ctx context.Context) ([]*Category, error)

	// FindCategory returns one category. Errors: ENOTFOUND, EFORBIDDEN.
	FindCategory(ctx context.Context, name string) (*Category, error)

	// PutCategory creates or replaces a category and reports whether it was created.
	// Removing a field or changing its type is refused while records of the category exist,
	// and the subject category's field set cannot change.
	// Errors: EINVALID, ECONFLICT, EFORBIDDEN.
	PutCategory(ctx context.Context, c *Category) (created bool, err error)
}
