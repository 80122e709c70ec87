package skjold

import (
	"context"
	"slices"
	"time"
)

// Record is one personal record of a category about a subject, such as a travel booking or
// an invoice. Its values are sealed field by field under the subject's data key.
type Record struct {
	ID        string         `json:"id"`
	SubjectID string         `json:"subject_id"`
	Category  string         `json:"category"`
	Data      map[string]any `json:"data"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`

	// Withheld names the purpose-bound fields left out because the caller stated none of
	// their purposes. It is set on reads only.
	Withheld []string `json:"withheld"`
	// Version identifies this state of the stored object (it changes with every write); the
	// API sends it as the ETag and honours it in If-Match. Empty when not read from storage.
	Version string `json:"-"`
}

// NormalizeData checks data against the category: unknown fields, types, the input guard,
// and (unless partial) required fields. A nil value in a partial change removes the field.
// It returns the canonical values.
func (c *Category) NormalizeData(data map[string]any, partial bool) (map[string]any, error) {
	if len(data) > len(c.Fields) {
		return nil, FieldError("data", "unknown", "data has more fields than category %q defines", c.Name)
	}
	out := make(map[string]any, len(data))
	var bad []*Error // every field that breaks a rule, so that one answer names them all
	for name, v := range data {
		f := c.Field(name)
		if f == nil {
			bad = append(bad, FieldError(name, "unknown", "category %q has no field %q", c.Name, name))
			continue
		}
		if v == nil {
			if !partial || f.Required {
				bad = append(bad, FieldError(name, "required", "field %q is required", name))
				continue
			}
			out[name] = nil
			continue
		}
		nv, err := f.NormalizeValue(v)
		if fe := fieldErrorOf(err); fe != nil {
			bad = append(bad, fe)
			continue
		} else if err != nil {
			return nil, err
		}
		out[name] = nv
	}
	for _, f := range c.Fields {
		if _, ok := data[f.Name]; f.Required && !partial && !ok {
			bad = append(bad, FieldError(f.Name, "required", "field %q is required", f.Name))
		}
	}
	if err := FieldErrors(bad); err != nil {
		return nil, err
	}
	return out, nil
}

// Withhold removes from values the fields of c bound to purposes other than purpose, and
// returns their names, sorted.
func (c *Category) Withhold(values map[string]any, purpose string) []string {
	withheld := []string{}
	for _, f := range c.Fields {
		if _, ok := values[f.Name]; ok && len(f.Purposes) > 0 && !slices.Contains(f.Purposes, purpose) {
			delete(values, f.Name)
			withheld = append(withheld, f.Name)
		}
	}
	slices.Sort(withheld)
	return withheld
}

// RecordFilter selects a subject's records, optionally of one category, one page at a time.
type RecordFilter struct {
	SubjectID string
	Category  string
	Page
}

// RecordService stores and finds records. Every method acts within the caller's tenant,
// seals and opens values itself, and appends its audit events before it returns.
type RecordService interface {
	// CreateRecord validates r against its category and stores it sealed; it sets r.ID and
	// the times. Errors: EINVALID, ENOTFOUND (subject or category), EFORBIDDEN.
	CreateRecord(ctx context.Context, r *Record) error

	// FindRecordByID returns one record without the purpose-bound fields the caller has no
	// purpose for. Errors: ENOTFOUND, EFORBIDDEN, EREADBUDGET.
	FindRecordByID(ctx context.Context, id string) (*Record, error)

	// FindRecords returns a subject's records ordered by id.
	// Errors: EINVALID, ENOTFOUND (subject), EFORBIDDEN, EREADBUDGET.
	FindRecords(ctx context.Context, f RecordFilter) ([]*Record, error)

	// UpdateRecord merges data into the record (nil removes a field) and returns the record as
	// stored. Old values are overwritten, not kept. Errors: EINVALID, ENOTFOUND, EFORBIDDEN.
	UpdateRecord(ctx context.Context, id string, data map[string]any) (*Record, error)

	// DeleteRecord deletes a record. Errors: ENOTFOUND, EFORBIDDEN.
	DeleteRecord(ctx context.Context, id string) error
}
