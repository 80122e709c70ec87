package store_test

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/internal/pgtest"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// TestMasterKeysRecorded checks, on both engines, that the database records the master keys
// its keys are wrapped under, that a node holding other keys is refused with the missing
// fingerprints before it touches anything, and that a rotation leaves only the new key
// needed once nothing is wrapped under the old one.
func TestMasterKeysRecorded(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testMasterKeysRecorded(t, filepath.Join(t.TempDir(), "skjold.db")) })
	t.Run("postgres", func(t *testing.T) { testMasterKeysRecorded(t, pgtest.Require(t).NewDatabase(t)) })
}

func testMasterKeysRecorded(t *testing.T, dsn string) {
	ctx := t.Context()
	if needed, err := store.MasterKeysNeeded(ctx, dsn); err != nil || len(needed) != 0 {
		t.Fatalf("a new database needs %v, %v; want none", needed, err)
	}
	ringA, err := keys.CreateKeyring(filepath.Join(t.TempDir(), "a.key"))
	if err != nil {
		t.Fatal(err)
	}
	ringB, err := keys.CreateKeyring(filepath.Join(t.TempDir(), "b.key"))
	if err != nil {
		t.Fatal(err)
	}
	open := func(ring *keys.Keyring) (*store.DB, error) {
		return store.Open(ctx, dsn, store.Options{Keys: keys.NewService(ring), Logger: quiet})
	}
	db, err := open(ringA)
	if err != nil {
		t.Fatal(err)
	}
	// Before any tenant: the audit key is sealed under A already.
	if needed, err := store.MasterKeysNeeded(ctx, dsn); err != nil || !slices.Equal(needed, []string{ringA.PrimaryKeyID()}) {
		t.Fatalf("after the first open the database needs %v, %v; want [%s]", needed, err, ringA.PrimaryKeyID())
	}
	op := skjold.NewContextWithCaller(ctx, &skjold.Caller{Actor: "test", Operator: true})
	if _, err := db.CreateTenant(op, &skjold.Tenant{Name: "A"}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	_, err = open(ringB)
	var missing *store.MissingKeysError
	if !errors.As(err, &missing) || !slices.Equal(missing.Missing, []string{ringA.PrimaryKeyID()}) {
		t.Fatalf("open with another node's own key file: %v, want the missing key %s named", err, ringA.PrimaryKeyID())
	}

	// Rotate: the new key is needed, the old one no longer, once everything is rewrapped.
	db, err = open(ringA)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	newID, err := ringA.AddPrimary()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.RewrapTenantKeys(op); err != nil {
		t.Fatal(err)
	}
	if needed, err := store.MasterKeysNeeded(ctx, dsn); err != nil || !slices.Equal(needed, []string{newID}) {
		t.Fatalf("after the rotation the database needs %v, %v; want [%s]", needed, err, newID)
	}
}
