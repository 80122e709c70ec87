package store

import (
	"context"

	"github.com/skjold-project/skjold"
)

// ReactivateTenant ends a tenant's freeze.
func (db *DB) ReactivateTenant(ctx context.Context, id string) (*skjold.Tenant, error) {
	return nil, skjold.Errorf(skjold.EINTERNAL, "not built yet")
}

// FindDeletionCertificate returns a terminated tenant's certificate.
func (db *DB) FindDeletionCertificate(ctx context.Context, id string) (*skjold.DeletionCertificate, error) {
	return nil, skjold.Errorf(skjold.EINTERNAL, "not built yet")
}
