package main

import (
	"context"
	"errors"
	"testing"

	"github.com/skjold-project/skjold"
)

type flakyMailer struct{ fail bool }

func (f *flakyMailer) Send(context.Context, skjold.Message) error {
	if f.fail {
		return errors.New("relay down")
	}
	return nil
}

func TestCountingMailer(t *testing.T) {
	inner := &flakyMailer{}
	m := &countingMailer{Mailer: inner}
	if err := m.Send(context.Background(), skjold.Message{}); err != nil || m.Failed() != 0 {
		t.Fatalf("a sent mail: %v, %d failed", err, m.Failed())
	}
	inner.fail = true
	if err := m.Send(context.Background(), skjold.Message{}); err == nil || m.Failed() != 1 {
		t.Fatalf("a failed mail: %v, %d failed", err, m.Failed())
	}
}
