package skjold

import (
	"context"
	"strings"
	"time"
)

// AdultAge is the age from which a subject needs no guardian.
const AdultAge = 18

// Subject is a person whose data a tenant holds. Its profile values are personal data and
// are stored only sealed under the subject's own data key.
type Subject struct {
	ID         string `json:"id"`
	Ref        string `json:"ref,omitempty"` // the tenant's own reference (customer number, …)
	Email      string `json:"email,omitempty"`
	Phone      string `json:"phone,omitempty"`
	Name       string `json:"name,omitempty"`
	BirthDate  string `json:"birth_date,omitempty"` // YYYY-MM-DD
	GuardianID string `json:"guardian_id,omitempty"`
	// Relationship is prospect, active (the default) or ended; RelationshipEndedAt is set
	// when it ended. Restricted and Objected reflect the subject's requests [C4, C5].
	Relationship        string     `json:"relationship"`
	RelationshipEndedAt *time.Time `json:"relationship_ended_at,omitempty"`
	Restricted          bool       `json:"restricted"`
	Objected            bool       `json:"objected"`
	CreatedAt           time.Time  `json:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at"`

	// Withheld names the purpose-bound fields left out because the caller stated none of
	// their purposes. It is set on reads only.
	Withheld []string `json:"withheld"`
	// Version identifies this state of the stored object (it changes with every write); the
	// API sends it as the ETag and honours it in If-Match. Empty when not read from storage.
	Version string `json:"-"`
}

// Profile field names, as the subject category defines them.
const (
	FieldRef       = "ref"
	FieldEmail     = "email"
	FieldPhone     = "phone"
	FieldName      = "name"
	FieldBirthDate = "birth_date"
)

// profile returns pointers to the subject's profile values by field name.
func (s *Subject) profile() map[string]*string {
	return map[string]*string{
		FieldRef: &s.Ref, FieldEmail: &s.Email, FieldPhone: &s.Phone,
		FieldName: &s.Name, FieldBirthDate: &s.BirthDate,
	}
}

// Values returns the subject's non-empty profile values by field name.
func (s *Subject) Values() map[string]string {
	m := make(map[string]string, 5)
	for name, p := range s.profile() {
		if *p != "" {
			m[name] = *p
		}
	}
	return m
}

// SetValue sets one profile value by field name; it ignores unknown names.
func (s *Subject) SetValue(name, v string) {
	if p, ok := s.profile()[name]; ok {
		*p = v
	}
}

// Normalize checks every profile value against the tenant's subject category (types and the
// input guard) and replaces each with its canonical form.
func (s *Subject) Normalize(def *Category) error {
	var bad []*Error // every field that breaks a rule, so that one answer names them all
	for name, p := range s.profile() {
		if *p == "" {
			continue
		}
		f := def.Field(name)
		if f == nil {
			bad = append(bad, FieldError(name, "unknown", "the subject category has no field %q", name))
			continue
		}
		v, err := f.NormalizeValue(*p)
		if fe := fieldErrorOf(err); fe != nil {
			bad = append(bad, fe)
			continue
		} else if err != nil {
			return err
		}
		*p = v.(string)
	}
	if s.GuardianID != "" && !ValidID(s.GuardianID) {
		bad = append(bad, FieldError("guardian_id", "id", "guardian_id must be an id"))
	} else if s.GuardianID != "" && s.GuardianID == s.ID {
		bad = append(bad, FieldError("guardian_id", "guardian", "a subject cannot be its own guardian"))
	}
	return FieldErrors(bad)
}

// IsMinor reports whether a person born on birthDate (YYYY-MM-DD) is under AdultAge at now.
// An empty or malformed date is not a minor: such a person's age is unknown.
func IsMinor(birthDate string, now time.Time) bool {
	b, err := time.Parse(time.DateOnly, birthDate)
	if err != nil {
		return false
	}
	adult := b.AddDate(AdultAge, 0, 0)
	y, m, d := now.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Before(adult)
}

// IsBirthDateField reports whether f holds a birth date: a date field named birth_date,
// date_of_birth, birthdate or dob, or whose name ends in _birth_date.
func IsBirthDateField(f *Field) bool {
	if f.Type != TypeDate {
		return false
	}
	switch f.Name {
	case FieldBirthDate, "date_of_birth", "birthdate", "dob":
		return true
	}
	return strings.HasSuffix(f.Name, "_"+FieldBirthDate)
}

// MinorBirthDate returns the first birth-date field of c (IsBirthDateField), in field order,
// whose value in data (normalised: dates as YYYY-MM-DD) makes someone under AdultAge at now,
// with that value; "" when there is none. A subject with such a record needs a guardian,
// as one with such a profile does.
func (c *Category) MinorBirthDate(data map[string]any, now time.Time) (field, birthDate string) {
	for i := range c.Fields {
		f := &c.Fields[i]
		if v, ok := data[f.Name].(string); ok && IsBirthDateField(f) && IsMinor(v, now) {
			return f.Name, v
		}
	}
	return "", ""
}

// IsAdult reports whether a person born on birthDate is AdultAge or older at now. An empty or
// malformed date is not an adult: a guardian's age must be known.
func IsAdult(birthDate string, now time.Time) bool {
	_, err := time.Parse(time.DateOnly, birthDate)
	return err == nil && !IsMinor(birthDate, now)
}

// SubjectUpdate is a partial change of a subject: nil leaves a value as it is, a pointer to
// "" clears it.
type SubjectUpdate struct {
	Ref, Email, Phone, Name, BirthDate, GuardianID *string
}

// Apply writes the update onto s and returns the names of the fields it touched.
func (u *SubjectUpdate) Apply(s *Subject) []string {
	var touched []string
	set := func(name string, dst *string, v *string) {
		if v != nil {
			*dst = *v
			touched = append(touched, name)
		}
	}
	set(FieldRef, &s.Ref, u.Ref)
	set(FieldEmail, &s.Email, u.Email)
	set(FieldPhone, &s.Phone, u.Phone)
	set(FieldName, &s.Name, u.Name)
	set(FieldBirthDate, &s.BirthDate, u.BirthDate)
	set("guardian_id", &s.GuardianID, u.GuardianID)
	return touched
}

// SubjectFilter selects subjects: by at most one of Email, Phone or Ref (through their blind
// indexes), or all, one page at a time.
type SubjectFilter struct {
	Email, Phone, Ref string
	Page
}

// SubjectService stores and finds subjects. Every method acts within the caller's tenant,
// seals and opens values itself, and appends its audit events before it returns.
type SubjectService interface {
	// CreateSubject validates s, refuses a minor without an adult guardian of the same tenant,
	// stores it sealed under a fresh data key, and sets s.ID and the times.
	// Errors: EINVALID, ECONFLICT (duplicate ref), EFORBIDDEN.
	CreateSubject(ctx context.Context, s *Subject) error

	// CreateSubjectWithRecords creates s as CreateSubject does and, in the same write and
	// audit group, its first records as RecordService.CreateRecord creates each (their
	// SubjectID is set to s.ID). All are checked first: one refused refuses the whole create
	// and nothing is written; the error's field names the record ("records[1].category").
	// Errors: those of CreateSubject and CreateRecord.
	CreateSubjectWithRecords(ctx context.Context, s *Subject, records []*Record) error

	// FindSubjectByID returns one subject, leaving out purpose-bound fields whose purposes
	// the caller did not state. Errors: ENOTFOUND (also for another tenant's id), EFORBIDDEN,
	// EREADBUDGET (the caller's read budget is spent: see ReadBudget).
	FindSubjectByID(ctx context.Context, id string) (*Subject, error)

	// FindSubjects returns the matching subjects ordered by id; each counts against the
	// caller's read budget. Errors: EINVALID, EFORBIDDEN, EREADBUDGET.
	FindSubjects(ctx context.Context, f SubjectFilter) ([]*Subject, error)

	// UpdateSubject applies upd and returns the subject as stored, with the same rules as
	// CreateSubject. Old values are overwritten, not kept.
	// Errors: EINVALID, ENOTFOUND, ECONFLICT, EFORBIDDEN.
	UpdateSubject(ctx context.Context, id string, upd SubjectUpdate) (*Subject, error)

	// DeleteSubject erases the subject: its data key is destroyed and its rows deleted; its
	// audit events are kept. Errors: ENOTFOUND, ECONFLICT (guardian of a minor), EFORBIDDEN.
	DeleteSubject(ctx context.Context, id string) error
}
