package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/backup"
	"github.com/skjold-project/skjold/store"
)

// checkpointEvery is how often the server signs an audit checkpoint [F3]. The journal-sync
// job copies the file to the backup targets at the same pace.
const checkpointEvery = time.Minute

// checkpointFile is the local audit checkpoint file, in the data directory.
func (c *Config) checkpointFile() string { return filepath.Join(c.Data, skjold.CheckpointFile) }

// checkpointJob appends a signed checkpoint of the audit chain to path every minute, when the
// chain has grown since the last one.
func checkpointJob(log *slog.Logger, db *store.DB, path string) *job {
	var last int64 = -1
	return &job{name: "audit-checkpoint", every: checkpointEvery, log: log, pass: func(ctx context.Context) error {
		cp, err := db.AuditCheckpoint(ctx)
		if err != nil || cp.Seq == last {
			return err
		}
		if err := backup.AppendCheckpoint(path, cp); err != nil {
			return fmt.Errorf("audit checkpoint: %w", err)
		}
		last = cp.Seq
		return nil
	}}
}

// checkpointSource is a place audit checkpoints were read from, for the report.
type checkpointSource struct {
	name string
	cps  []*skjold.AuditCheckpoint
	err  error
}

// readCheckpointSources reads the local checkpoint file and every configured backup target's
// copy. A source that cannot be read is reported, not fatal.
func readCheckpointSources(ctx context.Context, cfg Config) []checkpointSource {
	path := cfg.checkpointFile()
	cps, err := backup.ReadCheckpointFile(path)
	out := []checkpointSource{{name: path, cps: cps, err: err}}
	local, offsite, err := buildTargets(cfg)
	if err != nil {
		return append(out, checkpointSource{name: "backup targets", err: err})
	}
	for _, t := range append(local, offsite...) {
		cps, err := backup.ReadCheckpoints(ctx, t)
		out = append(out, checkpointSource{name: t.Name(), cps: cps, err: err})
	}
	return out
}

// checkpointsOf returns every checkpoint the sources hold.
func checkpointsOf(sources []checkpointSource) (all []*skjold.AuditCheckpoint) {
	for _, s := range sources {
		all = append(all, s.cps...)
	}
	return all
}

// printCheckpointSources says which checkpoints verification checked, from where.
func printCheckpointSources(w io.Writer, sources []checkpointSource) {
	for _, s := range sources {
		switch {
		case s.err != nil:
			fmt.Fprintf(w, "checkpoints from %s: NOT READ: %v\n", s.name, s.err)
		case len(s.cps) == 0:
			fmt.Fprintf(w, "checkpoints from %s: none\n", s.name)
		default:
			newest := s.cps[len(s.cps)-1]
			fmt.Fprintf(w, "checkpoints from %s: %d read, the newest of %d events at %s\n", s.name, len(s.cps), newest.Seq,
				newest.Time.UTC().Format(time.RFC3339))
		}
	}
	if len(checkpointsOf(sources)) == 0 {
		fmt.Fprintln(w, "no audit checkpoints were found: events removed from the end of the chain cannot be detected")
	}
}

// checkedAudit is the store's audit service, whose VerifyAuditChain (GET /api/v1/audit/verify)
// also checks the chain against the local checkpoint file.
type checkedAudit struct {
	*store.DB
	path string
}

func (a checkedAudit) VerifyAuditChain(ctx context.Context) (skjold.ChainReport, error) {
	cps, err := backup.ReadCheckpointFile(a.path)
	if err != nil {
		return skjold.ChainReport{}, err
	}
	return a.DB.VerifyAuditCheckpoints(ctx, cps)
}
