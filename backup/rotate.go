package backup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

// DefaultKeep is how many days of backups rotation keeps: "seven subsequent copies from the
// last 7 days are stored, older ones are deleted" [E3].
const DefaultKeep = 7

// orphanAge is how old a backup file without its manifest (or a manifest without its file)
// must be before rotation removes it: younger ones may be a backup being written right now.
const orphanAge = 24 * time.Hour

// ErrNoVerifiedCopy is returned (wrapped) by Rotate when no backup on the target passes its
// checksum: rotation then deletes nothing, and the caller raises an alert.
var ErrNoVerifiedCopy = errors.New("no backup on the target passes its checksum")

// RotateReport says what a rotation kept and deleted on one target.
type RotateReport struct {
	Target     string   `json:"target"`
	Kept       []string `json:"kept"`        // backup ids, newest first
	Deleted    []string `json:"deleted"`     // backup ids, newest first
	Orphans    []string `json:"orphans"`     // stray object names removed
	NewestGood string   `json:"newest_good"` // the newest backup that passed its checksum
	Corrupt    []string `json:"corrupt"`     // backup ids whose checksum failed, newest first
}

// Rotate keeps, on target t, one backup of each of the last keep calendar days (today
// included; days are counted in now's location, so pass now in the configured zone) and
// deletes the older ones [E3]. Every backup's checksum is checked first: a day's kept copy
// is its newest that verifies, and only when none of that day verifies its newest copy;
// the report lists the corrupt ones (the caller alerts). It never deletes the newest backup
// whose checksum verifies, however old: when none verifies it deletes nothing and returns
// ErrNoVerifiedCopy with the report. A backup is deleted manifest first, so that it stops
// counting at once; a file left behind by an interrupted deletion or upload is removed as
// an orphan once it is a day old. keep < 1 means DefaultKeep.
func Rotate(ctx context.Context, t skjold.Target, keep int, now time.Time) (*RotateReport, error) {
	return rotate(ctx, t, keep, now, "")
}

// rotate is Rotate that also keeps backup protect (when not ""): the backup just made, which
// must survive its own rotation even when another of the same second sorts after it.
func rotate(ctx context.Context, t skjold.Target, keep int, now time.Time, protect string) (*RotateReport, error) {
	if keep < 1 {
		keep = DefaultKeep
	}
	ms, err := List(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("rotate %s: %w", t.Name(), err)
	}
	rep := &RotateReport{Target: t.Name(), Kept: []string{}, Deleted: []string{}, Orphans: []string{}}
	corrupt, err := checkAll(ctx, t, ms)
	if err != nil {
		return nil, err
	}
	for _, m := range newestFirst(ms) {
		switch {
		case corrupt[m.ID]:
			rep.Corrupt = append(rep.Corrupt, m.ID)
		case rep.NewestGood == "":
			rep.NewestGood = m.ID
		}
	}
	if rep.NewestGood == "" {
		return rep, fmt.Errorf("rotate %s: refused: %w (%d backups checked)", t.Name(), ErrNoVerifiedCopy, len(ms))
	}
	keepIDs, drop := plan(ms, keep, now, corrupt)
	for _, id := range []string{rep.NewestGood, protect} {
		if i := slices.Index(drop, id); id != "" && i >= 0 {
			keepIDs, drop = append(keepIDs, id), slices.Delete(drop, i, i+1)
		}
	}
	rep.Kept = keepIDs
	for _, id := range drop {
		if err := deleteBackup(ctx, t, id); err != nil {
			return rep, fmt.Errorf("rotate %s: delete %s: %w", t.Name(), id, err)
		}
		rep.Deleted = append(rep.Deleted, id)
	}
	rep.Orphans, err = removeOrphans(ctx, t, now)
	return rep, err
}

// checkAll checks every backup in ms against its checksum and returns the ids of those that
// fail. Only the end of ctx stops it.
func checkAll(ctx context.Context, t skjold.Target, ms []*skjold.Manifest) (map[string]bool, error) {
	corrupt := map[string]bool{}
	for _, m := range ms {
		if _, err := Verify(ctx, t, m.ID, nil); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			corrupt[m.ID] = true
		}
	}
	return corrupt, nil
}

// plan splits backups (newest first) into those rotation keeps — one of each of the keep
// calendar days ending with now's day, in now's location, and any dated after now — and
// those it deletes. A day's kept backup is its newest one not in corrupt, or its newest
// one when all of that day are. It is a pure function of its arguments.
func plan(ms []*skjold.Manifest, keep int, now time.Time, corrupt map[string]bool) (kept, deleted []string) {
	loc := now.Location()
	y, mo, d := now.Date()
	first := time.Date(y, mo, d-keep+1, 0, 0, 0, 0, loc) // midnight starting the oldest kept day
	sorted := newestFirst(ms)
	choice := map[string]string{} // day → the id kept for it
	for _, m := range sorted {
		day := m.Time.In(loc).Format(time.DateOnly)
		if have, ok := choice[day]; m.Time.Before(first) || (ok && !(corrupt[have] && !corrupt[m.ID])) {
			continue
		}
		choice[day] = m.ID
	}
	kept, deleted = []string{}, []string{}
	for _, m := range sorted {
		if choice[m.Time.In(loc).Format(time.DateOnly)] == m.ID {
			kept = append(kept, m.ID)
		} else {
			deleted = append(deleted, m.ID)
		}
	}
	return kept, deleted
}

// newestFirst returns ms sorted by time, newest first (ids break ties: they are sortable).
func newestFirst(ms []*skjold.Manifest) []*skjold.Manifest {
	out := slices.Clone(ms)
	slices.SortStableFunc(out, func(a, b *skjold.Manifest) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out
}

// deleteBackup removes a backup: its manifest first, so that it no longer counts as a backup
// even if removing the file then fails.
func deleteBackup(ctx context.Context, t skjold.Target, id string) error {
	if err := t.Delete(ctx, skjold.ManifestFile(id)); err != nil {
		return err
	}
	return t.Delete(ctx, skjold.BackupFile(id))
}

// removeOrphans deletes backup files without a manifest and manifests without a file, once
// their id says they are older than orphanAge, and returns their names.
func removeOrphans(ctx context.Context, t skjold.Target, now time.Time) ([]string, error) {
	names, err := t.List(ctx)
	if err != nil {
		return []string{}, fmt.Errorf("rotate %s: %w", t.Name(), err)
	}
	removed := []string{}
	for _, name := range orphans(names, now) {
		if err := t.Delete(ctx, name); err != nil {
			return removed, fmt.Errorf("rotate %s: delete %s: %w", t.Name(), name, err)
		}
		removed = append(removed, name)
	}
	return removed, nil
}

// orphans returns the names in names (a target's listing) that are half of a backup, a file
// without its manifest or a manifest without its file, and whose id dates them more than
// orphanAge before now. Names that are not backups (the journal, others' files) are left.
func orphans(names []string, now time.Time) []string {
	files, manifests := map[string]bool{}, map[string]bool{}
	for _, n := range names {
		if id, ok := strings.CutSuffix(n, skjold.BackupFile("")); ok {
			files[id] = true
		} else if id, ok := strings.CutSuffix(n, skjold.ManifestFile("")); ok {
			manifests[id] = true
		}
	}
	var out []string
	for _, n := range names {
		id, isFile := strings.CutSuffix(n, skjold.BackupFile(""))
		if !isFile {
			id, _ = strings.CutSuffix(n, skjold.ManifestFile(""))
		}
		if id == n || files[id] == manifests[id] {
			continue // not a backup object, or both halves present
		}
		if at, ok := idTime(id); ok && now.Sub(at) > orphanAge {
			out = append(out, n)
		}
	}
	return out
}

// idTime reads the UTC time a backup id starts with ("20261123T140000Z-…").
func idTime(id string) (time.Time, bool) {
	stamp, _, _ := strings.Cut(id, "-")
	t, err := time.Parse("20060102T150405Z", stamp)
	return t, err == nil
}
