package skjold

import (
	"context"
	"time"
)

// DataCopy is one entry of the register of copies [D3]: a copy of a customer's data handed
// over (what, to whom, when), the date by which it must be deleted, and the confirmation
// that it was. To whom names an organisation or a role, not a private person.
type DataCopy struct {
	ID         string     `json:"id"`
	What       string     `json:"what"`
	Recipient  string     `json:"recipient"`
	HandedOver string     `json:"handed_over"` // YYYY-MM-DD
	DeleteBy   string     `json:"delete_by"`   // YYYY-MM-DD; default CopyDeleteDays after HandedOver
	CreatedBy  string     `json:"created_by"`  // user id, "" for a token
	CreatedAt  time.Time  `json:"created_at"`
	RemindedAt *time.Time `json:"reminded_at,omitempty"`
	DeletedAt  *time.Time `json:"deleted_at,omitempty"` // deletion confirmed
	DeletedBy  string     `json:"deleted_by,omitempty"`
}

// Copies must be deleted between MinCopyDays and MaxCopyDays after they were handed over;
// CopyDeleteDays is the default.
const (
	MinCopyDays    = 14
	MaxCopyDays    = 28
	CopyDeleteDays = 14
)

// Validate fills the default delete-by date and returns an EINVALID error naming the field
// at fault.
func (c *DataCopy) Validate() error {
	if err := checkText("what", c.What, 1, 500); err != nil {
		return err
	}
	if err := checkText("recipient", c.Recipient, 1, 200); err != nil {
		return err
	}
	handed, err := ParseDate("handed_over", c.HandedOver)
	if err != nil {
		return err
	}
	if c.DeleteBy == "" {
		c.DeleteBy = handed.AddDate(0, 0, CopyDeleteDays).Format(time.DateOnly)
	}
	by, err := ParseDate("delete_by", c.DeleteBy)
	if err != nil {
		return err
	}
	if by.Before(handed.AddDate(0, 0, MinCopyDays)) || by.After(handed.AddDate(0, 0, MaxCopyDays)) {
		return FieldError("delete_by", "range", "delete_by must be 2 to 4 weeks after handed_over")
	}
	return nil
}

// DestroyedMedium is one entry of the register of destroyed storage media [D4]: what was
// destroyed, how, by whom, who witnessed it, when, and the destruction certificate (a PDF,
// stored sealed; its SHA-256 is shown).
type DestroyedMedium struct {
	ID          string    `json:"id"`
	What        string    `json:"what"`
	Method      string    `json:"method"`
	DestroyedBy string    `json:"destroyed_by"`
	Witness     string    `json:"witness"`
	DestroyedOn string    `json:"destroyed_on"` // YYYY-MM-DD
	CreatedAt   time.Time `json:"created_at"`
	CertSHA256  string    `json:"certificate_sha256,omitempty"`
	CertSize    int64     `json:"certificate_size,omitempty"`
}

// Validate returns an EINVALID error naming the field at fault.
func (m *DestroyedMedium) Validate() error {
	for _, f := range []struct{ name, v string }{{"what", m.What}, {"method", m.Method}, {"destroyed_by", m.DestroyedBy}, {"witness", m.Witness}} {
		if err := checkText(f.name, f.v, 1, 300); err != nil {
			return err
		}
	}
	_, err := ParseDate("destroyed_on", m.DestroyedOn)
	return err
}

// CopyRegisterService keeps the registers of copies handed over and of destroyed media, of the
// caller's tenant (its administrators) or of the operator.
type CopyRegisterService interface {
	Copies(ctx context.Context) ([]*DataCopy, error)
	// RecordCopy errors: EINVALID, EFORBIDDEN.
	RecordCopy(ctx context.Context, c *DataCopy) error
	// ConfirmCopyDeleted errors: ENOTFOUND, ECONFLICT (already confirmed), EFORBIDDEN.
	ConfirmCopyDeleted(ctx context.Context, id string) (*DataCopy, error)
	Media(ctx context.Context) ([]*DestroyedMedium, error)
	// RecordMedium errors: EINVALID, EFORBIDDEN.
	RecordMedium(ctx context.Context, m *DestroyedMedium) error
	// AttachCertificate stores a destruction certificate (a PDF of at most MaxDPAScan
	// bytes), sealed. Errors: EINVALID, ENOTFOUND, EFORBIDDEN.
	AttachCertificate(ctx context.Context, id string, pdf []byte) (*DestroyedMedium, error)
	// Certificate returns the certificate of a medium. Errors: ENOTFOUND.
	Certificate(ctx context.Context, id string) ([]byte, error)
}
