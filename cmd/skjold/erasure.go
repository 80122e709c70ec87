package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/backup"
	"github.com/skjold-project/skjold/mail"
	"github.com/skjold-project/skjold/sms"
)

// afterErasure is what the server does outside the database once an erasure has committed,
// in the erasing request (store.Options.OnErasure) [D4]: the erasure journal is appended to
// the local backup directories (and a copy to the remote targets started), and the outbox's
// messages to the erased subjects are removed. Its fields are set before the server serves.
type afterErasure struct {
	backups *backup.Service // nil without backups
	outbox  *mail.Outbox    // nil with an SMTP relay
	texts   *sms.Outbox     // nil with an SMS gateway
	log     *slog.Logger
}

func (a *afterErasure) erased(ctx context.Context, entries []skjold.JournalEntry) {
	if a.backups != nil {
		a.backups.Erased(ctx)
	}
	for _, e := range entries {
		if a.texts == nil {
			break
		}
		if _, err := a.texts.Forget(e.TenantID, e.SubjectID); err != nil {
			a.log.Error("removing an erased subject's text messages from the SMS outbox failed", "component", "sms", "err", err)
		}
	}
	if a.outbox == nil {
		return
	}
	for _, e := range entries {
		if _, err := a.outbox.Forget(e.TenantID, e.SubjectID); err != nil {
			a.log.Error("removing an erased subject's messages from the outbox failed", "component", "mail", "err", err)
		}
	}
}

// outboxSweepEvery is how often the outbox is swept of messages older than mail.MaxAge.
const outboxSweepEvery = time.Hour

// outboxJob sweeps the outbox, when the server writes mail to one.
func outboxJob(log *slog.Logger, outbox *mail.Outbox) []*job {
	if outbox == nil {
		return nil
	}
	return []*job{{name: "outbox-sweep", every: outboxSweepEvery, log: log, pass: func(ctx context.Context) error {
		n, err := outbox.Sweep(time.Now())
		if n > 0 {
			log.Info("removed old messages from the outbox", "component", "mail", "count", n)
		}
		return err
	}}}
}

// smsOutboxJob sweeps the SMS outbox, when the server writes text messages to one.
func smsOutboxJob(log *slog.Logger, outbox *sms.Outbox) []*job {
	if outbox == nil {
		return nil
	}
	return []*job{{name: "sms-outbox-sweep", every: outboxSweepEvery, log: log, pass: func(ctx context.Context) error {
		n, err := outbox.Sweep(time.Now())
		if n > 0 {
			log.Info("removed old messages from the SMS outbox", "component", "sms", "count", n)
		}
		return err
	}}}
}

// journalFlushTimeout bounds the copy of the erasure journal to every target on shutdown.
const journalFlushTimeout = time.Minute

// flushJournal copies the erasure journal to every backup target as the server stops
// (after the HTTP server has, so no erasure follows it). A target it cannot reach in time
// is logged: its copy may lack the newest erasures until the next start copies them.
func flushJournal(ctx context.Context, backups *backup.Service, log *slog.Logger) {
	if backups == nil {
		return
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), journalFlushTimeout)
	defer cancel()
	if err := backups.FlushJournal(fctx); err != nil {
		log.Error("the erasure journal could not be copied to every backup target before exit: a restore from a "+
			"target that lacks it could bring back subjects erased since its last copy, until the next start copies it",
			"component", "backup", "err", err)
		return
	}
	log.Info("erasure journal copied to every backup target", "component", "backup")
}
