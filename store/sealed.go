package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/skjold-project/skjold"
)

// sealValues seals each value of a subject or record under the subject's key, bound to the
// record ("" for the profile) and the field name, and encodes the result for storage as a
// JSON object of field name → sealed bytes. Field names are not personal data; values are.
func sealValues(key skjold.SubjectKey, recordID string, values map[string]any) ([]byte, error) {
	sealed := make(map[string][]byte, len(values))
	for name, v := range values {
		plain, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("store: encode value of %s: %w", name, err)
		}
		if sealed[name], err = key.Seal(recordID, name, plain); err != nil {
			return nil, err
		}
	}
	return json.Marshal(sealed)
}

// openValues reverses sealValues. Numbers come back as json.Number, exactly as stored.
func openValues(key skjold.SubjectKey, recordID string, blob []byte) (map[string]any, error) {
	var sealed map[string][]byte
	if err := json.Unmarshal(blob, &sealed); err != nil {
		return nil, fmt.Errorf("store: stored values do not decode: %w", err)
	}
	values := make(map[string]any, len(sealed))
	for name, s := range sealed {
		plain, err := key.Open(recordID, name, s)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(plain))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("store: sealed value of %s does not decode: %w", name, err)
		}
		values[name] = v
	}
	return values, nil
}

// sortedKeys returns the names of a value map, sorted, for audit events.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// version names one state of a sealed row: its sealed values are sealed afresh, under a new
// nonce, at every write, so their hash changes with every write and with nothing else. It is
// the object's Version and, in quotes, its ETag; it reveals nothing of the values.
func version(fields []byte) string {
	sum := sha256.Sum256(fields)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// checkIfMatch applies the caller's If-Match (skjold.WithIfMatch) to a row of table ("subjects"
// or "records") inside the write that changes it; without one it reads nothing.
func (tx *Tx) checkIfMatch(ctx context.Context, table, what, tenantID, id string) error {
	if !skjold.HasIfMatch(ctx) {
		return nil
	}
	var fields []byte
	if err := tx.queryRow("SELECT fields FROM "+table+" WHERE id = ? AND tenant_id = ?", id, tenantID).Scan(&fields); err != nil {
		return notFound(err, what)
	}
	return skjold.CheckIfMatch(ctx, version(fields))
}
