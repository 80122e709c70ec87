package store

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
)

// auditKeyLabel is the label the audit key is sealed under (see skjold.KeyService.SealSecret);
// the id it is bound to is keyed_from, so that the boundary between plain and keyed events
// cannot be moved without the master key.
const auditKeyLabel = "audit-chain"

// auditKey is the unsealed audit key [F3]: events from seq from on are hashed with HMAC-SHA-256
// under chain, and checkpoints are signed under checkpoint. Both are derived from one random
// key, which the master key seals in the audit_key row, so that a master key rotation reseals
// it (RewrapTenantKeys) without changing any hash.
type auditKey struct {
	from       int64
	chain      []byte
	checkpoint []byte
	id         string // a public fingerprint: names the key in checkpoints
}

func deriveAuditKey(raw []byte, from int64) *auditKey {
	sub := func(label string) []byte {
		m := hmac.New(sha256.New, raw)
		m.Write([]byte("skjold/audit/" + label))
		return m.Sum(nil)
	}
	return &auditKey{from: from, chain: sub("chain"), checkpoint: sub("checkpoint"), id: hex.EncodeToString(sub("id")[:8])}
}

// loadAuditKey unseals the audit key, making it first if the database has none yet (a new
// database, or one just migrated to schema 11). Several processes may open a new database at
// once: only the first key stored counts, and every process reads it back.
func (db *DB) loadAuditKey(ctx context.Context) error {
	for range 2 {
		var from int64
		var keyID sql.NullString
		var sealed []byte
		err := db.wdb.QueryRowContext(ctx, "SELECT keyed_from, key_id, sealed FROM audit_key WHERE id = 1").Scan(&from, &keyID, &sealed)
		if err != nil {
			return fmt.Errorf("store: read the audit key: %w", err)
		}
		if sealed != nil {
			raw, err := db.keys.OpenSecret(auditKeyLabel, strconv.FormatInt(from, 10), keyID.String, sealed)
			if err != nil {
				return fmt.Errorf("store: the audit key does not open with this master key file (wrong key file, or the audit_key row was altered): %w", err)
			}
			db.audit = deriveAuditKey(raw, from)
			return nil
		}
		raw := make([]byte, 32)
		rand.Read(raw)
		newID, sealed, err := db.keys.SealSecret(auditKeyLabel, strconv.FormatInt(from, 10), raw)
		if err != nil {
			return fmt.Errorf("store: seal the audit key: %w", err)
		}
		_, err = db.wdb.ExecContext(ctx, db.rebind("UPDATE audit_key SET key_id = ?, sealed = ? WHERE id = 1 AND sealed IS NULL AND keyed_from = ?"),
			newID, sealed, from)
		if err != nil {
			return fmt.Errorf("store: store the audit key: %w", err)
		}
	}
	return fmt.Errorf("store: the audit key could not be stored")
}

// resealAuditKey moves the audit key under the primary master key, in a master key rotation.
func (tx *Tx) resealAuditKey() error {
	var from int64
	var keyID string
	var sealed []byte
	err := tx.queryRow("SELECT keyed_from, key_id, sealed FROM audit_key WHERE id = 1 AND sealed IS NOT NULL").Scan(&from, &keyID, &sealed)
	if err == sql.ErrNoRows {
		return nil
	} else if err != nil {
		return err
	}
	keys, id := tx.db.keys, strconv.FormatInt(from, 10)
	if keyID == keys.PrimaryKeyID() {
		return nil
	}
	raw, err := keys.OpenSecret(auditKeyLabel, id, keyID, sealed)
	if err != nil {
		return fmt.Errorf("open the audit key: %w", err)
	}
	newID, resealed, err := keys.SealSecret(auditKeyLabel, id, raw)
	if err != nil {
		return fmt.Errorf("reseal the audit key: %w", err)
	}
	_, err = tx.exec("UPDATE audit_key SET key_id = ?, sealed = ? WHERE id = 1", newID, resealed)
	return err
}
