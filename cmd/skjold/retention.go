package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// retentionBatch is how many rows one retention transaction deletes: small enough that an
// API write queued behind it waits milliseconds, large enough that a million expired
// records go in well under a minute (see docs/performance.md).
const retentionBatch = 500

// retentionJob runs the retention sweep every interval [D1–D3] and hands each report to
// observe (the metrics).
func retentionJob(log *slog.Logger, db *store.DB, every time.Duration, observe func(*skjold.SweepReport)) *job {
	return &job{name: "retention", every: every, log: log, pass: func(ctx context.Context) error {
		rep, err := db.Sweep(ctx, retentionBatch)
		if rep != nil {
			observe(rep)
			if rep.ErasedRecords > 0 || rep.ErasedSubjects > 0 || rep.Downloads > 0 {
				log.Info("retention sweep", "records", rep.ErasedRecords, "subjects", rep.ErasedSubjects,
					"downloads", rep.Downloads, "took", rep.Finished.Sub(rep.Started))
			}
		}
		return err
	}}
}
