package backup

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/skjold-project/skjold"
)

// KeyHolder says which master keys a key file holds; keys.Service and keys.Keyring
// implement it.
type KeyHolder interface {
	HasKey(id string) bool
}

// NeededKeys returns the master keys a restore of backup m needs: those its manifest names,
// or for a manifest made before manifests named them, the primary key of that time.
func NeededKeys(m *skjold.Manifest) []string {
	if len(m.MasterKeys) > 0 {
		return m.MasterKeys
	}
	if m.KeyFingerprint != "" {
		return []string{m.KeyFingerprint}
	}
	return nil
}

// MissingKeys returns the master keys backup m needs that keys lacks. A keys that cannot say
// (a KeyService without HasKey) lacks none: the restore's own unwrap check then decides.
func MissingKeys(m *skjold.Manifest, keys any) []string {
	h, ok := keys.(KeyHolder)
	if !ok {
		return nil
	}
	var out []string
	for _, id := range NeededKeys(m) {
		if !h.HasKey(id) {
			out = append(out, id)
		}
	}
	return out
}

// errMissingKeys is a restore's refusal of backup m, whose tenant keys are wrapped under
// master keys the key file lacks, with what to do.
func errMissingKeys(m *skjold.Manifest, missing []string) error {
	return skjold.Errorf(skjold.EINVALID, "backup %s needs master key %s, which the key file does not hold "+
		"(a rotation retired it and it was pruned since, or this is another installation's key file): "+
		"nothing was written; restore with a key file that still holds it (a copy of master.key from "+
		"before it was pruned; \"skjold keys list\" shows which keys each kept backup needs)",
		m.ID, strings.Join(missing, ", "))
}

// KeyUse is one master key and the kept backups that need it.
type KeyUse struct {
	ID      string
	Backups []BackupRef
}

// BackupRef names one backup on one target.
type BackupRef struct {
	Target, ID string
}

func (r BackupRef) String() string { return r.ID + " on " + r.Target }

// KeysNeeded lists the backups on every target and returns, per master key id, the kept
// backups that need it, sorted by key id. A target that cannot be listed is an error: what
// it keeps is then unknown, so no key may be pruned.
func KeysNeeded(ctx context.Context, targets []skjold.Target) (map[string][]BackupRef, error) {
	out := map[string][]BackupRef{}
	for _, t := range targets {
		ms, err := List(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("which backups %s keeps is unknown: %w", t.Name(), err)
		}
		for _, m := range ms {
			for _, id := range NeededKeys(m) {
				out[id] = append(out[id], BackupRef{Target: t.Name(), ID: m.ID})
			}
		}
	}
	for id := range out {
		slices.SortFunc(out[id], func(a, b BackupRef) int { return strings.Compare(b.ID, a.ID) })
	}
	return out, nil
}

// checkKeptKeys is the drill's check that every backup t keeps can be restored with keys:
// that the key file holds every master key each one's manifest names [E3, E4].
func checkKeptKeys(ctx context.Context, t skjold.Target, keys any) (int, error) {
	ms, err := List(ctx, t)
	if err != nil {
		return 0, err
	}
	var bad []string
	for _, m := range ms {
		if missing := MissingKeys(m, keys); len(missing) > 0 {
			bad = append(bad, fmt.Sprintf("backup %s needs master key %s", m.ID, strings.Join(missing, ", ")))
		}
	}
	if len(bad) > 0 {
		return len(ms), fmt.Errorf("kept backups could not be restored with this node's key file: %s; "+
			"put the key back in the key file from a copy, before the backups that need it are the only ones left",
			strings.Join(bad, "; "))
	}
	return len(ms), nil
}
