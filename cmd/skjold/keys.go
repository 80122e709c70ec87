package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/skjold-project/skjold/backup"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

func runKeysRotate(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "keys rotate", "Add a new master key to the key file, rewrap every tenant key under it (no data is\n"+
		"re-encrypted), then retire the old master keys: the key file keeps them, for unwrapping\n"+
		"only, because backups made before the rotation need them. \"skjold keys prune\" removes\n"+
		"them once no kept backup does. Safe while the server runs.")
	asJSON := jsonFlag(fs)
	return withStore(ctx, e, fs, args, func(ctx context.Context, db *store.DB, ring *keys.Keyring) error {
		old := ring.PrimaryKeyID()
		id, err := ring.AddPrimary()
		if err != nil {
			return err
		}
		p := newProgress(e, "keys rotate", "tenant keys")
		n, err := db.RewrapTenantKeys(store.WithProgress(ctx, p.update))
		if err != nil {
			return fmt.Errorf("rewrap tenant keys (the key file keeps both keys; run again): %w", err)
		}
		inUse, err := db.MasterKeysInUse(ctx)
		if err != nil {
			return err
		}
		if len(inUse) > 1 || (len(inUse) == 1 && inUse[0] != id) {
			return fmt.Errorf("tenant keys still use master keys %v; the key file keeps them: run again", inUse)
		}
		retired, err := ring.RetireOthers(time.Now())
		if err != nil {
			return err
		}
		p.finish()
		if *asJSON {
			return printJSON(e.stdout, map[string]any{"old": old, "new": id, "rewrapped": n, "retired": nonNil(retired), "key_file": ring.Path()})
		}
		fmt.Fprintf(e.stdout, "master key rotated: %s → %s; %d tenant keys rewrapped\n", old, id, n)
		if len(retired) > 0 {
			fmt.Fprintf(e.stdout, "retired (kept in %s for the backups made before now): %s\n"+
				"copy the key file to every node; \"skjold keys prune\" removes a retired key once no kept backup needs it\n",
				ring.Path(), strings.Join(retired, ", "))
		}
		return nil
	})
}

// keyReport is what keys list and keys prune know: the key file's keys, which kept backups
// need each key, and which keys those backups need that the file lacks.
type keyReport struct {
	keys    []keys.KeyInfo
	needed  map[string][]backup.BackupRef
	inUse   []string // keys that wrap a tenant key in the database now
	missing []string // needed by a kept backup, absent from the key file
}

// readKeyReport reads the key file, the database's keys in use and every target's backups.
func readKeyReport(ctx context.Context, db *store.DB, ring *keys.Keyring, cfg Config) (*keyReport, error) {
	if err := ring.Refresh(); err != nil {
		return nil, err
	}
	r := &keyReport{keys: ring.Keys(), needed: map[string][]backup.BackupRef{}}
	var err error
	if r.inUse, err = db.MasterKeysInUse(ctx); err != nil {
		return nil, err
	}
	targets, err := cfg.backupTargets()
	if err != nil {
		return nil, err
	}
	if r.needed, err = backup.KeysNeeded(ctx, targets); err != nil {
		return nil, err
	}
	for id := range r.needed {
		if !ring.HasKey(id) {
			r.missing = append(r.missing, id)
		}
	}
	slices.Sort(r.missing)
	return r, nil
}

// why says why key k is kept; "" when nothing needs it.
func (r *keyReport) why(k keys.KeyInfo) string {
	var parts []string
	if k.Primary {
		parts = append(parts, "it is the primary key")
	}
	if slices.Contains(r.inUse, k.ID) {
		parts = append(parts, "tenant keys in the database are wrapped under it")
	}
	if refs := r.needed[k.ID]; len(refs) > 0 {
		parts = append(parts, fmt.Sprintf("%d kept backups need it (newest %s, oldest %s)", len(refs), refs[0], refs[len(refs)-1]))
	}
	return strings.Join(parts, "; ")
}

func runKeysList(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "keys list", "Show each master key in the key file: its state (primary, unwrap-only, retired and\n"+
		"when), and which backups kept on the configured targets need it. Keys that a kept backup\n"+
		"needs and this key file lacks are listed as missing, and make the command fail.")
	asJSON := jsonFlag(fs)
	return withStoreConfig(ctx, e, fs, args, func(ctx context.Context, db *store.DB, ring *keys.Keyring, cfg Config) error {
		r, err := readKeyReport(ctx, db, ring, cfg)
		if err != nil {
			return err
		}
		type keyJSON struct {
			ID       string     `json:"id"`
			State    string     `json:"state"`
			Retired  *time.Time `json:"retired,omitempty"`
			NeededBy int        `json:"needed_by_backups"`
			Why      string     `json:"why"`
		}
		var list []keyJSON
		out := e.stdout
		if *asJSON {
			out = io.Discard
		}
		for _, k := range r.keys {
			kj := keyJSON{ID: k.ID, State: k.State(), NeededBy: len(r.needed[k.ID]), Why: r.why(k)}
			if !k.Retired.IsZero() {
				t := k.Retired.UTC()
				kj.Retired = &t
			}
			list = append(list, kj)
			state := k.State()
			if !k.Retired.IsZero() {
				state += " " + k.Retired.UTC().Format(time.RFC3339)
			}
			why := r.why(k)
			if why == "" {
				why = "nothing needs it: \"skjold keys prune\" removes it"
			}
			fmt.Fprintf(out, "%s  %s  %s\n", k.ID, state, why)
		}
		for _, id := range r.missing {
			refs := r.needed[id]
			list = append(list, keyJSON{ID: id, State: "missing", NeededBy: len(refs)})
			fmt.Fprintf(out, "%s  MISSING  %d kept backups need it (newest %s), and this key file lacks it\n", id, len(refs), refs[0])
		}
		if *asJSON {
			if err := printJSON(e.stdout, map[string]any{"key_file": ring.Path(), "keys": list}); err != nil {
				return err
			}
		}
		if len(r.missing) > 0 {
			return fmt.Errorf("the key file %s lacks master keys that kept backups need: %s; copy them from the key "+
				"file of a node that has them", ring.Path(), strings.Join(r.missing, ", "))
		}
		return nil
	})
}

func runKeysPrune(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "keys prune", "Remove from the key file the retired master keys that no kept backup on any configured\n"+
		"target needs (and that no tenant key uses), and say why the others are kept. A target\n"+
		"that cannot be listed stops it: what it keeps is then unknown.")
	asJSON := jsonFlag(fs)
	return withStoreConfig(ctx, e, fs, args, func(ctx context.Context, db *store.DB, ring *keys.Keyring, cfg Config) error {
		out := e.stdout
		if *asJSON {
			out = io.Discard
		}
		kept := map[string]string{}
		r, err := readKeyReport(ctx, db, ring, cfg)
		if err != nil {
			return fmt.Errorf("nothing pruned: %w", err)
		}
		var drop []string
		for _, k := range r.keys {
			if k.Retired.IsZero() {
				continue
			}
			if why := r.why(k); why != "" {
				kept[k.ID] = why
				fmt.Fprintf(out, "kept %s (retired %s): %s\n", k.ID, k.Retired.UTC().Format(time.RFC3339), why)
				continue
			}
			drop = append(drop, k.ID)
		}
		if len(drop) == 0 {
			if *asJSON {
				return printJSON(e.stdout, map[string]any{"removed": []string{}, "kept": kept})
			}
			fmt.Fprintln(e.stdout, "no retired key can be removed")
			return nil
		}
		if err := ring.Remove(drop); err != nil {
			return err
		}
		if err := db.AuditBackupEvent(ctx, "keys.pruned", strings.Join(drop, ",")); err != nil {
			return errors.Join(fmt.Errorf("removed %s, but recording it failed", strings.Join(drop, ", ")), err)
		}
		if *asJSON {
			return printJSON(e.stdout, map[string]any{"removed": drop, "kept": kept})
		}
		fmt.Fprintf(e.stdout, "removed from %s: %s\n", ring.Path(), strings.Join(drop, ", "))
		return nil
	})
}
