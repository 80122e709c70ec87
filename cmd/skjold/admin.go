package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// withStore parses a command's flags (with the configuration flags), opens the keyring and
// the database, and runs fn as the command-line operator. Commands work on the database
// directly, also while the server runs.
func withStore(ctx context.Context, e env, fs *flag.FlagSet, args []string, fn func(context.Context, *store.DB, *keys.Keyring) error) error {
	return withStoreConfig(ctx, e, fs, args, func(ctx context.Context, db *store.DB, ring *keys.Keyring, _ Config) error {
		return fn(ctx, db, ring)
	})
}

// withStoreConfig is withStore for a command that also needs the configuration.
func withStoreConfig(ctx context.Context, e env, fs *flag.FlagSet, args []string, fn func(context.Context, *store.DB, *keys.Keyring, Config) error) error {
	load := configFlags(fs, e.getenv)
	if err := parseArgs(e, fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	return openAndRun(ctx, load, fn)
}

// withStoreParsed is withStoreConfig for a command that parsed its flags (and a positional
// argument) itself; the configuration flags must already be on fs (see configFlags).
func withStoreParsed(ctx context.Context, e env, load func() (Config, error), fn func(context.Context, *store.DB, *keys.Keyring, Config) error) error {
	return openAndRun(ctx, load, fn)
}

// openAndRun builds the configuration, opens the store and runs fn as the command line.
func openAndRun(ctx context.Context, load func() (Config, error), fn func(context.Context, *store.DB, *keys.Keyring, Config) error) error {
	cfg, err := load()
	if err != nil {
		return err
	}
	db, ring, err := openStore(ctx, cfg, newLogger(io.Discard, 0), nil)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(cliContext(ctx), db, ring, cfg)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runTenantCreate(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "tenant create", "Create a tenant with the built-in categories and its first API token (all scopes).")
	name := fs.String("name", "", "the tenant's name (required)")
	asJSON := fs.Bool("json", false, "print the tenant and token as JSON")
	return withStore(ctx, e, fs, args, func(ctx context.Context, db *store.DB, _ *keys.Keyring) error {
		t := &skjold.Tenant{Name: *name}
		tok, err := db.CreateTenant(ctx, t)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e.stdout, map[string]any{"tenant": t, "token": tok})
		}
		fmt.Fprintf(e.stdout, "tenant %s created (%s)\ntoken  %s (shown only once)\n", t.ID, t.Name, tok.Secret)
		return nil
	})
}

func runTokenCreate(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "token create", "Create an API token for a tenant (--tenant) or an operator token (--operator).\n"+
		"A tenant token made here is the break-glass path: it needs the data directory and the master\n"+
		"key, and is audited as made by \"cli\"; through the API only the tenant's own admins make them.")
	tenantID := fs.String("tenant", "", "tenant id")
	operator := fs.Bool("operator", false, "create an operator token instead of a tenant token")
	name := fs.String("name", "cli", "a name to recognise the token by")
	scopes := fs.String("scopes", "", "comma-separated scopes: of a tenant token (default "+strings.Join(skjold.AllScopes, ",")+
		"), or of an operator token (default "+strings.Join(skjold.OperatorTokenScopes, ",")+")")
	ttl := fs.Duration("expires-in", 0, "lifetime, e.g. 720h; 0 for no expiry")
	asJSON := fs.Bool("json", false, "print the token as JSON")
	return withStore(ctx, e, fs, args, func(ctx context.Context, db *store.DB, _ *keys.Keyring) error {
		tok := &skjold.Token{TenantID: *tenantID, Operator: *operator, Name: *name}
		switch {
		case *scopes != "":
			tok.Scopes = strings.Split(*scopes, ",")
		case *operator:
			tok.Scopes = slices.Clone(skjold.OperatorTokenScopes)
		default:
			tok.Scopes = slices.Clone(skjold.AllScopes)
		}
		if *ttl < 0 {
			return errors.New("--expires-in must be positive")
		} else if *ttl > 0 {
			exp := time.Now().Add(*ttl)
			tok.ExpiresAt = &exp
		}
		if err := db.CreateToken(ctx, tok); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e.stdout, tok)
		}
		fmt.Fprintf(e.stdout, "token %s created (scopes %s)\nsecret %s (shown only once)\n", tok.ID,
			strings.Join(tok.Scopes, ","), tok.Secret)
		return nil
	})
}

func runAuditVerify(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "audit verify", "Walk the whole audit chain, recomputing every hash, and check it against the signed\n"+
		"audit checkpoints in the data directory and on every configured backup target. Exits\n"+
		"non-zero and names the first broken link when an event was altered, removed or reordered.")
	asJSON := jsonFlag(fs)
	return withStoreConfig(ctx, e, fs, args, func(ctx context.Context, db *store.DB, _ *keys.Keyring, cfg Config) error {
		start := time.Now()
		sources := readCheckpointSources(ctx, cfg)
		rep, err := db.VerifyAuditCheckpoints(ctx, checkpointsOf(sources))
		var ce *skjold.ChainError
		if *asJSON {
			return auditVerifyJSON(e, sources, rep, err, time.Since(start))
		}
		if errors.As(err, &ce) {
			fmt.Fprintf(e.stdout, "audit chain BROKEN at event %d: %s\n", ce.Seq, ce.Reason)
			printCheckpointSources(e.stdout, sources)
			return err
		} else if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "audit chain OK: %d events, head %s (%s)\n", rep.Length, hex.EncodeToString(rep.Head),
			time.Since(start).Round(time.Millisecond))
		printCheckpointSources(e.stdout, sources)
		fmt.Fprintf(e.stdout, "checkpoints matched: %d; superseded by a restore (of events it did not bring back): %d\n",
			rep.Checkpoints, rep.Superseded)
		return nil
	})
}
