package skjold

import (
	"context"
	"slices"
	"time"
)

// TrainingInterval is how often people who can reach personal data repeat their
// data-protection training [B15].
const TrainingInterval = 365 * 24 * time.Hour

// RegisterEntry is one line of the register of persons authorised to process personal data
// [B15]: who, with which role, since when, trained and bound to confidentiality when.
type RegisterEntry struct {
	UserID      string     `json:"user_id"`
	Name        string     `json:"name"`
	Email       string     `json:"email"`
	Role        string     `json:"role"`
	Scopes      []string   `json:"scopes"`
	Via         string     `json:"via"` // "role", or "grant:<id>" for operator staff under a support grant
	Suspended   bool       `json:"suspended"`
	AccessUntil *time.Time `json:"access_until,omitempty"`
	TrainingAt  *time.Time `json:"training_at,omitempty"`
	AgreementAt *time.Time `json:"agreement_at,omitempty"`
	TrainingDue bool       `json:"training_due"`
	CreatedAt   time.Time  `json:"created_at"`
}

// ReachesPersonalData reports whether scopes let a person read or change personal data.
func ReachesPersonalData(scopes []string) bool {
	return slices.Contains(scopes, ScopeRead) || slices.Contains(scopes, ScopeWrite) || slices.Contains(scopes, ScopeExport)
}

// TrainingDue reports whether a person trained at trainedAt (nil: never) is due at now.
func TrainingDue(trainedAt *time.Time, now time.Time) bool {
	return trainedAt == nil || !now.Before(trainedAt.Add(TrainingInterval))
}

// RegisterService produces the register of authorised persons.
type RegisterService interface {
	// Register lists everyone who can reach the caller's tenant's personal data: its users
	// whose role or profile reads, writes or exports it, and operator staff holding a live
	// support grant. Errors: EFORBIDDEN.
	Register(ctx context.Context) ([]*RegisterEntry, error)

	// RemindTraining records a register.training_due event for each person whose annual
	// training is due and who was not reminded in the last 30 days, and returns how many.
	RemindTraining(ctx context.Context) (int, error)
}
