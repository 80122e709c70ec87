package skjold

import (
	"context"
	"time"
)

// Maintenance is a window the operator announces [E6]: when the service may be unavailable,
// and why (a note for customers; it must hold no personal data). Tenant owners are e-mailed
// AnnounceAhead before it starts, or at once when it is scheduled closer than that.
type Maintenance struct {
	ID          string     `json:"id"`
	Starts      time.Time  `json:"starts"`
	Ends        time.Time  `json:"ends"`
	Note        string     `json:"note"`
	CreatedAt   time.Time  `json:"created_at"`
	AnnouncedAt *time.Time `json:"announced_at,omitempty"` // when the owners were e-mailed
}

// AnnounceAhead is how long before a maintenance window tenant owners are e-mailed.
const AnnounceAhead = 72 * time.Hour

// Validate returns an EINVALID error naming the field at fault: a window starts in the
// future, ends after it starts and lasts at most a day.
func (m *Maintenance) Validate(now time.Time) error {
	switch {
	case !m.Starts.After(now):
		return FieldError("starts", "future", "starts must be in the future")
	case !m.Ends.After(m.Starts):
		return FieldError("ends", "range", "ends must be after starts")
	case m.Ends.Sub(m.Starts) > 24*time.Hour:
		return FieldError("ends", "range", "a maintenance window lasts at most 24 hours")
	}
	return checkText("note", m.Note, 1, 500)
}

// MaintenanceService schedules and shows maintenance windows.
type MaintenanceService interface {
	// ScheduleMaintenance stores a window. Errors: EINVALID, EFORBIDDEN (not an operator).
	ScheduleMaintenance(ctx context.Context, m *Maintenance) error

	// FindMaintenance returns the windows that have not ended, soonest first, to any
	// authenticated caller. Errors: EUNAUTHORIZED.
	FindMaintenance(ctx context.Context) ([]*Maintenance, error)

	// CancelMaintenance removes a window. Errors: ENOTFOUND, EFORBIDDEN.
	CancelMaintenance(ctx context.Context, id string) error
}
