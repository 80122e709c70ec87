package skjold

import (
	"context"
	"time"
)

// Default read budgets [B16]. A person at a console reads a few hundred subjects on a busy
// day and an integration that syncs changes reads what changed; 1000 a minute is two full
// pages of MaxPageLimit, and 20000 a day is forty. Copying a tenant of 100 000 subjects
// with one token would take five days, and the first refusal raises an alert on day one.
// The operator's bounds are ten times the defaults: a tenant with a busy integration may
// raise its budget that far, no further.
const (
	DefaultReadsPerMinute = 1000
	DefaultReadsPerDay    = 20000
	DefaultMaxPerMinute   = 10000
	DefaultMaxPerDay      = 200000
	// maxReadBudget caps what even an operator may allow: beyond it a budget limits nothing.
	maxReadBudget = 100_000_000
)

// ReadBudgetMinute and ReadBudgetDay are the budget's two windows: each starts with the
// first subject a caller reads after the previous one ended.
const (
	ReadBudgetMinute = time.Minute
	ReadBudgetDay    = 24 * time.Hour
)

// ReadBudget limits how many subjects one API token, and one person, may read per minute and
// per day [B16]: every subject whose data a request returns counts once (a list of 500
// counts 500, a subject read with its records counts 1). The operator's budget (tenant "")
// holds the defaults of tenants that set none (PerMinute, PerDay) and the bounds no tenant
// may go beyond (MaxPerMinute, MaxPerDay); a tenant's budget sets only its own PerMinute and
// PerDay, and reads the bounds.
type ReadBudget struct {
	PerMinute    int `json:"per_minute"`
	PerDay       int `json:"per_day"`
	MaxPerMinute int `json:"max_per_minute"`
	MaxPerDay    int `json:"max_per_day"`
}

// DefaultReadBudget is the operator's budget until an operator sets one.
func DefaultReadBudget() ReadBudget {
	return ReadBudget{PerMinute: DefaultReadsPerMinute, PerDay: DefaultReadsPerDay,
		MaxPerMinute: DefaultMaxPerMinute, MaxPerDay: DefaultMaxPerDay}
}

// Validate returns an EINVALID error naming the setting at fault: every number is at least 1,
// a minute's budget is no more than a day's, and neither is above its bound.
func (b *ReadBudget) Validate() error {
	switch {
	case b.MaxPerMinute < 1 || b.MaxPerMinute > maxReadBudget:
		return FieldError("max_per_minute", "range", "max_per_minute must be between 1 and %d", maxReadBudget)
	case b.MaxPerDay < b.MaxPerMinute || b.MaxPerDay > maxReadBudget:
		return FieldError("max_per_day", "range", "max_per_day must be between max_per_minute and %d", maxReadBudget)
	case b.PerMinute < 1 || b.PerMinute > b.MaxPerMinute:
		return FieldError("per_minute", "range", "per_minute must be between 1 and %d (max_per_minute)", b.MaxPerMinute)
	case b.PerDay < b.PerMinute || b.PerDay > b.MaxPerDay:
		return FieldError("per_day", "range", "per_day must be between per_minute and %d (max_per_day)", b.MaxPerDay)
	}
	return nil
}

// Within returns b with its budgets lowered to bounds' maxima where they exceed them, and
// bounds' maxima: what applies to a tenant after the operator has lowered its bounds.
func (b ReadBudget) Within(bounds ReadBudget) ReadBudget {
	b.MaxPerMinute, b.MaxPerDay = bounds.MaxPerMinute, bounds.MaxPerDay
	b.PerMinute, b.PerDay = min(b.PerMinute, b.MaxPerMinute), min(b.PerDay, b.MaxPerDay)
	return b
}

// ReadBudgetService reads and sets read budgets.
type ReadBudgetService interface {
	// ReadBudget returns the budget that applies to the caller's tenant (its own, or the
	// operator's defaults, within the operator's bounds), or for an operator caller the
	// operator's defaults and bounds. Errors: EUNAUTHORIZED.
	ReadBudget(ctx context.Context) (*ReadBudget, error)

	// PutReadBudget sets the caller's tenant's budget (an administrator of the tenant; the
	// bounds must be left as ReadBudget returns them or zero), or for an operator the
	// defaults and bounds of every tenant. Errors: EINVALID, EFORBIDDEN.
	PutReadBudget(ctx context.Context, b *ReadBudget) error
}
