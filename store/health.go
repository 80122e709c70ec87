package store

import "context"

// AuditLength returns the number of events in the audit chain, from the chain head.
func (db *DB) AuditLength(ctx context.Context) (int64, error) {
	var n int64
	err := db.queryRow(ctx, "SELECT seq FROM audit_head WHERE id = 1").Scan(&n)
	return n, err
}

// CountOperatorTokensEver returns how many operator tokens were ever made, revoked ones
// included: the bootstrap token is made only on a database that never had one.
func (db *DB) CountOperatorTokensEver(ctx context.Context) (int, error) {
	var n int
	err := db.queryRow(ctx, "SELECT COUNT(*) FROM tokens WHERE operator = 1").Scan(&n)
	return n, err
}
