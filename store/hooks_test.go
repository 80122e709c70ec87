package store

import "database/sql"

// HoldHead begins a transaction on db's own pool, with its session limits, and locks the
// audit chain's head as every write does, then leaves the transaction idle: what a node
// stopped or cut off in the middle of a write looks like to the database. Tests only.
func (db *DB) HoldHead() (*sql.Tx, error) {
	tx, err := db.wdb.Begin()
	if err != nil {
		return nil, err
	}
	if _, err := readHead(&Tx{tx: tx, db: db}); err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx, nil
}
