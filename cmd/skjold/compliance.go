package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// runComplianceCheck prints the operator's and every tenant's compliance checks and fails
// when one of them fails, so that monitoring can run it.
func runComplianceCheck(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "compliance check", "Check every promise of the operator and of each tenant against live state: backups at\n"+
		"their times, the off-site copy, seven daily copies, the last restore drill, the password\n"+
		"policy, second factors of admins, the idle lock, offboarding, training, retention periods\n"+
		"and the audit chain. Exits non-zero when any check fails.")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	return withStoreConfig(ctx, e, fs, args, func(ctx context.Context, db *store.DB, _ *keys.Keyring, cfg Config) error {
		if err := configureDPA(db, cfg); err != nil {
			return err
		}
		rep, err := db.Compliance(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			if err := printJSON(e.stdout, rep); err != nil {
				return err
			}
		} else {
			printCompliance(e, rep)
		}
		if n := failedChecks(rep); n > 0 {
			return fmt.Errorf("compliance check: %d checks failed", n)
		}
		return nil
	})
}

func printCompliance(e env, rep *skjold.ComplianceReport) {
	tw := tabwriter.NewWriter(e.stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "SCOPE\tREQ\tCHECK\tSTATUS\tEVIDENCE\n")
	for _, sc := range rep.Scopes {
		for _, ch := range sc.Checks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", sc.Scope, ch.Requirement, ch.Check, ch.Status, strings.Join(ch.Evidence, "; "))
		}
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "checked at %s: %d failed\n", rep.GeneratedAt.UTC().Format("2006-01-02 15:04:05Z"), failedChecks(rep))
}

func failedChecks(rep *skjold.ComplianceReport) int {
	n := 0
	for _, sc := range rep.Scopes {
		for _, ch := range sc.Checks {
			if ch.Status == skjold.CheckFail {
				n++
			}
		}
	}
	return n
}

// runMaintenanceSchedule schedules a maintenance window; the server's hourly job e-mails the
// tenant owners three days ahead [E6].
func runMaintenanceSchedule(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "maintenance schedule", "Schedule a maintenance window. Every active tenant's owner is e-mailed in their\n"+
		"language three days before it starts, and the console shows a banner.")
	starts := fs.String("starts", "", "when it starts, RFC 3339 (e.g. 2030-12-31T22:00:00Z)")
	ends := fs.String("ends", "", "when it ends, RFC 3339; at most 24 hours after starts")
	note := fs.String("note", "", "what the maintenance is, for customers (no personal data)")
	asJSON := jsonFlag(fs)
	return withStoreConfig(ctx, e, fs, args, func(ctx context.Context, db *store.DB, _ *keys.Keyring, _ Config) error {
		s, err := time.Parse(time.RFC3339, *starts)
		if err != nil {
			return skjold.FieldError("starts", "format", "--starts must be an RFC 3339 time such as 2030-12-31T22:00:00Z")
		}
		en, err := time.Parse(time.RFC3339, *ends)
		if err != nil {
			return skjold.FieldError("ends", "format", "--ends must be an RFC 3339 time such as 2030-12-31T23:00:00Z")
		}
		m := &skjold.Maintenance{Starts: s, Ends: en, Note: *note}
		if err := db.ScheduleMaintenance(ctx, m); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e.stdout, m)
		}
		fmt.Fprintf(e.stdout, "maintenance %s scheduled from %s to %s\n", m.ID, m.Starts.Format(time.RFC3339), m.Ends.Format(time.RFC3339))
		return nil
	})
}
