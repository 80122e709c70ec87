package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// runKeysStatus compares the master keys the database needs with those this node's key file
// holds. It opens no store (which would refuse a node that lacks keys), so it works on
// exactly the node that needs it.
func runKeysStatus(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "keys status", "List the fingerprints of the master keys the database needs (its tenant keys, audit key\n"+
		"and second-factor secrets are wrapped under them) and of those this node's key file holds.\n"+
		"Every node serving the database needs them all: it fails when this node lacks one.")
	load := configFlags(fs, e.getenv)
	asJSON := jsonFlag(fs)
	if err := parseArgs(e, fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	needed, err := store.MasterKeysNeeded(ctx, cfg.dsn())
	if err != nil {
		return err
	}
	out := e.stdout
	if *asJSON {
		out = io.Discard
	}
	var held []keys.KeyInfo
	ring, err := keys.OpenKeyring(cfg.keyFile())
	switch {
	case err == nil:
		held = ring.Keys()
	case errors.Is(err, os.ErrNotExist):
		fmt.Fprintf(out, "this node has no key file at %s\n", cfg.keyFile())
	default:
		return err
	}
	holds := func(id string) bool {
		return slices.ContainsFunc(held, func(k keys.KeyInfo) bool { return k.ID == id })
	}
	fmt.Fprintln(out, "the database needs:")
	if len(needed) == 0 {
		fmt.Fprintln(out, "  none (nothing is sealed yet)")
	}
	var missing []string
	for _, id := range needed {
		state := "held"
		if !holds(id) {
			state, missing = "MISSING from this node's key file", append(missing, id)
		}
		fmt.Fprintf(out, "  %s  %s\n", id, state)
	}
	fmt.Fprintf(out, "this node's key file %s holds:\n", cfg.keyFile())
	for _, k := range held {
		need := "not needed by the database"
		if slices.Contains(needed, k.ID) {
			need = "needed"
		}
		fmt.Fprintf(out, "  %s  %s  %s\n", k.ID, k.State(), need)
	}
	if *asJSON {
		var heldIDs []string
		for _, k := range held {
			heldIDs = append(heldIDs, k.ID)
		}
		if err := printJSON(e.stdout, map[string]any{"key_file": cfg.keyFile(), "needed": nonNil(needed),
			"held": nonNil(heldIDs), "missing": nonNil(missing)}); err != nil {
			return err
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("this node lacks master key(s) %s that the database needs: copy the key file from a node "+
			"that holds them", strings.Join(missing, ", "))
	}
	return nil
}
