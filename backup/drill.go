package backup

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// drillSample is how many tenants, and subjects of each, a drill opens with the master key.
const drillSample = 3

// DrillReport is the evidence of one restore rehearsal [E4, F4].
type DrillReport struct {
	Target    string        `json:"target"`
	BackupID  string        `json:"backup_id"`
	Took      time.Duration `json:"took"`
	Restored  bool          `json:"restored"`  // the backup was restored into a scratch database
	Chain     int64         `json:"chain"`     // the restored audit chain's verified length
	Replayed  int           `json:"replayed"`  // journal entries applied again
	Decrypted int           `json:"decrypted"` // sample subjects opened with the master key
	Checks    []string      `json:"checks"`    // what was checked
	Skipped   string        `json:"skipped"`   // what could not be checked, and why; "" for nothing
}

// Note sums up the report for the record of the run.
func (r *DrillReport) Note() string {
	s := fmt.Sprintf("%s: %s in %s", r.Target, strings.Join(r.Checks, ", "), r.Took.Round(time.Millisecond))
	if r.Skipped != "" {
		s += "; not checked: " + r.Skipped
	}
	return s
}

// Drill rehearses a restore of the newest backup on t [E4]: it checks the file's checksum
// against its manifest and, given identities, restores it (with Restore: decrypt, row counts
// against the manifest, schema migration, erasure journal, audit chain) into a scratch SQLite
// database in a private temporary directory, opens a sample of subjects with the master key
// (keys), and deletes the scratch copy. Without identities (the server by default holds only
// public recipients) it checks the checksum and manifest only and says so in Skipped. A
// backup of PostgreSQL (format skjold-dump-v1) is decrypted and its rows counted, without a
// scratch PostgreSQL database to load it into. In every case it checks that the key file
// holds every master key that each backup kept on t needs [E3, E4], so that a key pruned or
// lost raises drill.failed while the backups that need it are kept. The error says which
// check failed.
func Drill(ctx context.Context, t skjold.Target, identities []age.Identity, keys skjold.KeyService) (*DrillReport, error) {
	start := time.Now()
	rep := &DrillReport{Target: t.Name(), Checks: []string{}}
	m, err := Verify(ctx, t, "", nil)
	if m != nil {
		rep.BackupID = m.ID
	}
	if err != nil {
		return rep, fmt.Errorf("drill on %s: %w", t.Name(), err)
	}
	rep.Checks = append(rep.Checks, "checksum", "manifest")
	n, err := checkKeptKeys(ctx, t, keys)
	if err != nil {
		return rep, fmt.Errorf("drill on %s: %w", t.Name(), err)
	}
	rep.Checks = append(rep.Checks, fmt.Sprintf("master keys of %d kept backups", n))
	switch {
	case len(identities) == 0:
		rep.Skipped = "decryption, restore, audit chain and sample decryption: no backup_drill_identity_file is configured"
	case m.Format != "sqlite":
		if _, err := Verify(ctx, t, m.ID, identities); err != nil {
			return rep, fmt.Errorf("drill on %s: %w", t.Name(), err)
		}
		rep.Checks = append(rep.Checks, "decrypt", "row counts")
		rep.Skipped = "loading into a scratch PostgreSQL database and sample decryption: not rehearsed for PostgreSQL backups"
	default:
		if err := restoreScratch(ctx, t, m.ID, identities, keys, rep); err != nil {
			return rep, fmt.Errorf("drill on %s: %w", t.Name(), err)
		}
	}
	rep.Took = time.Since(start)
	return rep, nil
}

// restoreScratch restores backup id into a scratch SQLite database, opens a sample of its
// subjects, and removes the scratch directory whatever happens.
func restoreScratch(ctx context.Context, t skjold.Target, id string, ids []age.Identity, keys skjold.KeyService, rep *DrillReport) error {
	dir, err := os.MkdirTemp("", "skjold-drill-*") // mode 0700
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.DiscardHandler)
	dsn := filepath.Join(dir, "skjold.db")
	res, err := Restore(ctx, RestoreOptions{From: t, ID: id, Identities: ids, DSN: dsn, Keys: keys, Log: quiet})
	if err != nil {
		return err
	}
	rep.Restored, rep.Chain, rep.Replayed = true, res.ChainLength, res.Replayed
	rep.Checks = append(rep.Checks, "decrypt", "row counts", "journal replay", "audit chain")
	db, err := store.Open(ctx, dsn, store.Options{Keys: keys, Logger: quiet})
	if err != nil {
		return err
	}
	defer db.Close()
	if rep.Decrypted, err = sampleSubjects(ctx, db); err != nil {
		return fmt.Errorf("sample decryption with the master key: %w", err)
	}
	rep.Checks = append(rep.Checks, fmt.Sprintf("sample decryption (%d subjects)", rep.Decrypted))
	return nil
}

// sampleSubjects opens up to drillSample subjects of each of up to drillSample active tenants
// in the restored database, which proves the master key opens the tenant and subject keys.
// Nothing opened is kept or logged.
func sampleSubjects(ctx context.Context, db *store.DB) (int, error) {
	op := skjold.NewContextWithCaller(ctx, &skjold.Caller{Actor: "system:drill", Operator: true, Source: "local"})
	tenants, err := db.FindTenants(op, skjold.Page{Limit: skjold.MaxPageLimit})
	if err != nil {
		return 0, err
	}
	n, sampled := 0, 0
	for _, tn := range tenants {
		if tn.Status != skjold.TenantActive || sampled == drillSample {
			continue
		}
		sampled++
		as := skjold.NewContextWithCaller(ctx, &skjold.Caller{Actor: "system:drill", TenantID: tn.ID,
			Scopes: []string{skjold.ScopeRead}, Source: "local"})
		subjects, err := db.FindSubjects(as, skjold.SubjectFilter{Page: skjold.Page{Limit: drillSample}})
		if err != nil {
			return n, fmt.Errorf("tenant %s: %w", tn.ID, err)
		}
		n += len(subjects)
	}
	return n, nil
}
