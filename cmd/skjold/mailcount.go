package main

import (
	"context"
	"sync/atomic"

	"github.com/skjold-project/skjold"
)

// countingMailer counts the e-mails its mailer could not send, for the metric
// skjold_mail_failures_total.
type countingMailer struct {
	skjold.Mailer
	failed atomic.Int64
}

func (m *countingMailer) Send(ctx context.Context, msg skjold.Message) error {
	err := m.Mailer.Send(ctx, msg)
	if err != nil {
		m.failed.Add(1)
	}
	return err
}

// Failed returns how many sends failed.
func (m *countingMailer) Failed() int64 { return m.failed.Load() }
