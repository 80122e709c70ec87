package backup

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// rotateKeys does what "skjold keys rotate" does: a new primary key, every tenant key
// rewrapped under it, the old key retired. It returns the old key's id.
func (f *fixture) rotateKeys() string {
	f.t.Helper()
	ring, err := keys.OpenKeyring(f.keyFile)
	must(f.t, err)
	old := ring.PrimaryKeyID()
	_, err = ring.AddPrimary()
	must(f.t, err)
	_, err = f.db.RewrapTenantKeys(f.op)
	must(f.t, err)
	_, err = ring.RetireOthers(time.Now())
	must(f.t, err)
	return old
}

// TestRestoreAfterKeyRotation: a backup made before a key rotation restores with the key
// file after it, and its personal data reads [E3, E4]; the manifest names the master key
// its tenant keys are wrapped under.
func TestRestoreAfterKeyRotation(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			f := newFixture(t, engine)
			f.seed(2)
			m := f.backup()
			old := f.keys.PrimaryKeyID()
			if !slices.Equal(m.MasterKeys, []string{old}) {
				t.Fatalf("the manifest names master keys %v, want [%s]", m.MasterKeys, old)
			}
			if f.rotateKeys() != old {
				t.Fatal("rotated another key")
			}
			if f.keys.PrimaryKeyID() == old {
				t.Fatal("the rotation left the primary key")
			}
			o := f.restoreOptions(f.targets[0], f.newDSN())
			if _, err := Restore(t.Context(), o); err != nil {
				t.Fatalf("restore of a backup made before the rotation: %v", err)
			}
			db := openDB(t, o.DSN, f.keys)
			got, err := db.FindSubjectByID(f.ctx, f.subjects[0].ID)
			if err != nil || got.Email != f.subjects[0].Email {
				t.Fatalf("the restored subject reads %+v, %v", got, err)
			}
		})
	}
}

// countingTarget counts the reads of backup files (not manifests or the journal).
type countingTarget struct {
	skjold.Target
	fetched atomic.Int32
}

func (c *countingTarget) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if strings.HasSuffix(name, skjold.BackupFile("")) {
		c.fetched.Add(1)
	}
	return c.Target.Get(ctx, name)
}

// TestRestoreRefusesMissingMasterKey: with a key file that lacks the master key a backup's
// tenant keys are wrapped under (retired, then pruned), a restore refuses before fetching
// or writing anything, naming the missing key and what to do.
func TestRestoreRefusesMissingMasterKey(t *testing.T) {
	f := newFixture(t, store.SQLite)
	f.seed(1)
	f.backup()
	old := f.rotateKeys()
	ring, err := keys.OpenKeyring(f.keyFile)
	must(t, err)
	must(t, ring.Remove([]string{old}))

	from := &countingTarget{Target: f.targets[0]}
	o := f.restoreOptions(from, f.newDSN())
	_, err = Restore(t.Context(), o)
	if err == nil || !strings.Contains(err.Error(), "needs master key "+old) || !strings.Contains(err.Error(), "key file that still holds it") {
		t.Fatalf("restore without the backup's master key: %v, want a refusal naming %s", err, old)
	}
	if n := from.fetched.Load(); n != 0 {
		t.Errorf("the refused restore fetched the backup %d times, want none", n)
	}
	entries, _ := os.ReadDir(filepath.Dir(o.DSN))
	if len(entries) != 0 {
		t.Errorf("the refused restore wrote %v", entries)
	}
}

// TestDrillAlertsForMissingMasterKey: the drill fails (drill.failed, an alert) when a kept
// backup needs a master key that this node's key file lacks, even without an identity.
func TestDrillAlertsForMissingMasterKey(t *testing.T) {
	f := newFixture(t, store.SQLite)
	f.seed(1)
	first := f.backup()
	old := f.rotateKeys()
	f.backup()
	if _, err := Drill(t.Context(), f.targets[0], nil, f.keys); err != nil {
		t.Fatalf("drill with the retired key still in the file: %v", err)
	}
	ring, err := keys.OpenKeyring(f.keyFile)
	must(t, err)
	must(t, ring.Remove([]string{old}))
	_, err = Drill(t.Context(), f.targets[0], nil, f.keys)
	if err == nil || !strings.Contains(err.Error(), first.ID) || !strings.Contains(err.Error(), old) {
		t.Fatalf("drill with a kept backup's key missing: %v, want a failure naming %s and %s", err, first.ID, old)
	}
}

// TestKeysNeeded: every kept backup is listed under the keys its manifest names.
func TestKeysNeeded(t *testing.T) {
	f := newFixture(t, store.SQLite)
	f.seed(1)
	first := f.backup()
	old := f.rotateKeys()
	second := f.backup()
	needed, err := KeysNeeded(t.Context(), f.targets[:1])
	must(t, err)
	if refs := needed[old]; len(refs) != 1 || refs[0].ID != first.ID {
		t.Errorf("backups needing the old key: %v, want %s", refs, first.ID)
	}
	if refs := needed[f.keys.PrimaryKeyID()]; len(refs) != 1 || refs[0].ID != second.ID {
		t.Errorf("backups needing the new key: %v, want %s", refs, second.ID)
	}
}
