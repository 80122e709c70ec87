package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// nonNil returns s, or an empty slice for nil, so that JSON shows [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// allPages collects every page of a listing ordered by id.
func allPages[T any](ctx context.Context, find func(context.Context, skjold.Page) ([]T, error), id func(T) string) ([]T, error) {
	var all []T
	page := skjold.Page{Limit: skjold.MaxPageLimit}
	for {
		items, err := find(ctx, page)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if len(items) < page.Limit {
			return all, nil
		}
		page.After = id(items[len(items)-1])
	}
}

func runTenantList(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "tenant list", "List every tenant: id, status, creation time and name.")
	asJSON := jsonFlag(fs)
	return withStore(ctx, e, fs, args, func(ctx context.Context, db *store.DB, _ *keys.Keyring) error {
		ts, err := allPages(ctx, db.FindTenants, func(t *skjold.Tenant) string { return t.ID })
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e.stdout, map[string]any{"tenants": nonNil(ts)})
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATUS\tCREATED\tNAME")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Status, t.CreatedAt.UTC().Format(time.RFC3339), t.Name)
		}
		return tw.Flush()
	})
}

func runTokenList(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "token list", "List API tokens (never their secrets): of one tenant with --tenant, the operator's\n"+
		"with --operator, else every one. Revoked and expired tokens are left out unless --all.")
	tenantID := fs.String("tenant", "", "only this tenant's tokens")
	operator := fs.Bool("operator", false, "only operator tokens")
	all := fs.Bool("all", false, "also revoked and expired tokens")
	asJSON := jsonFlag(fs)
	return withStore(ctx, e, fs, args, func(ctx context.Context, db *store.DB, _ *keys.Keyring) error {
		if *tenantID != "" && *operator {
			return usagef("give --tenant or --operator, not both")
		}
		toks, err := allPages(ctx, db.FindTokens, func(t *skjold.Token) string { return t.ID })
		if err != nil {
			return err
		}
		now := time.Now()
		var shown []*skjold.Token
		for _, t := range toks {
			switch {
			case *tenantID != "" && t.TenantID != *tenantID, *operator && !t.Operator:
			case !*all && (t.RevokedAt != nil || (t.ExpiresAt != nil && !t.ExpiresAt.After(now))):
			default:
				shown = append(shown, t)
			}
		}
		if *asJSON {
			return printJSON(e.stdout, map[string]any{"tokens": nonNil(shown)})
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTENANT\tSTATE\tLAST USED\tSCOPES\tNAME")
		for _, t := range shown {
			owner, state, used := t.TenantID, "live", "never"
			if t.Operator {
				owner = "(operator)"
			}
			if t.RevokedAt != nil {
				state = "revoked"
			} else if t.ExpiresAt != nil && !t.ExpiresAt.After(now) {
				state = "expired"
			}
			if t.LastUsedAt != nil {
				used = t.LastUsedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, owner, state, used, strings.Join(t.Scopes, ","), t.Name)
		}
		return tw.Flush()
	})
}

func runTokenRevoke(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "token revoke ID", "Revoke API token ID at once (audited as token.revoke by \"cli\"). The running server\n"+
		"refuses it within a minute (its cache of tokens); this node's cache is cleared now.")
	load := configFlags(fs, e.getenv)
	asJSON := jsonFlag(fs)
	id, err := parseWithArg(e, fs, args, "give one token id (see \"skjold token list\")")
	if err != nil {
		return err
	}
	return withStoreParsed(ctx, e, load, func(ctx context.Context, db *store.DB, _ *keys.Keyring, _ Config) error {
		if err := db.RevokeToken(ctx, id); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e.stdout, map[string]any{"id": id, "revoked": true})
		}
		fmt.Fprintf(e.stdout, "token %s revoked\n", id)
		return nil
	})
}

// auditVerifyJSON prints audit verify's result as JSON; a broken chain is still an error.
func auditVerifyJSON(e env, sources []checkpointSource, rep skjold.ChainReport, err error, took time.Duration) error {
	type sourceJSON struct {
		Source      string `json:"source"`
		Checkpoints int    `json:"checkpoints"`
		Error       string `json:"error,omitempty"`
	}
	var src []sourceJSON
	for _, s := range sources {
		sj := sourceJSON{Source: s.name, Checkpoints: len(s.cps)}
		if s.err != nil && !errors.Is(s.err, os.ErrNotExist) {
			sj.Error = s.err.Error()
		}
		src = append(src, sj)
	}
	out := map[string]any{"ok": err == nil, "sources": src, "took_ms": took.Milliseconds()}
	var ce *skjold.ChainError
	switch {
	case errors.As(err, &ce):
		out["broken_at"], out["reason"] = ce.Seq, ce.Reason
	case err != nil:
		return err
	default:
		out["events"], out["head"] = rep.Length, hex.EncodeToString(rep.Head)
		out["checkpoints_matched"], out["checkpoints_superseded"] = rep.Checkpoints, rep.Superseded
	}
	if perr := printJSON(e.stdout, out); perr != nil {
		return perr
	}
	return err
}
