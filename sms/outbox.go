package sms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

// outboxTime is the time part of a file name: UTC, so that names sort by time.
const outboxTime = "20060102T150405.000000000Z"

// MaxAge is how long the outbox keeps a message before Sweep removes it.
const MaxAge = 7 * 24 * time.Hour

// Outbox is a skjold.SMSSender for deployments without a gateway, a development aid like
// the e-mail outbox: each message is written to its own file "<time>-<random>.sms" (or
// "<time>-<random>.<tenant id>.<subject id>.sms" for a data subject) with mode 0600, holding
// "To: <number>", a blank line and the body. The files hold codes in clear, so Sweep removes
// them after MaxAge and Forget when the subject is erased.
type Outbox struct {
	dir string
}

var _ skjold.SMSSender = (*Outbox)(nil)

// NewOutbox returns an outbox writing to dir, created with mode 0700 if missing. It refuses
// a directory that other users can read, write or enter.
func NewOutbox(dir string) (*Outbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sms: create outbox: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("sms: outbox: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("sms: outbox %s is not a directory", dir)
	} else if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("sms: outbox %s is open to other users (mode %04o); make it 0700", dir, perm)
	}
	return &Outbox{dir: dir}, nil
}

// Dir returns the outbox directory.
func (o *Outbox) Dir() string { return o.dir }

// SendSMS writes m to a new file, whole or not at all.
func (o *Outbox) SendSMS(ctx context.Context, m skjold.SMS) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", skjold.Errorf(skjold.EUNAVAILABLE, "the outbox write was cancelled"), err)
	}
	to, err := check(m)
	if err != nil {
		return err
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	name := time.Now().UTC().Format(outboxTime) + "-" + hex.EncodeToString(rnd[:])
	if skjold.ValidID(m.TenantID) && skjold.ValidID(m.SubjectID) {
		name += "." + m.TenantID + "." + m.SubjectID
	}
	f, err := os.CreateTemp(o.dir, ".sms-*.tmp")
	if err != nil {
		return fmt.Errorf("sms: outbox: %w", err)
	}
	_, err = f.WriteString("To: " + to + "\n\n" + m.Body + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(o.dir, name+".sms"))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("sms: outbox: %w", err)
	}
	return nil
}

// Sweep removes the messages written more than MaxAge before now and returns how many.
func (o *Outbox) Sweep(now time.Time) (int, error) {
	return o.remove(func(name string) bool {
		at, err := time.Parse(outboxTime, strings.SplitN(name, "-", 2)[0])
		return err == nil && now.Sub(at) > MaxAge
	})
}

// Forget removes every message to the subject (or, with subjectID "", to any subject of
// the tenant) and returns how many it removed.
func (o *Outbox) Forget(tenantID, subjectID string) (int, error) {
	return o.remove(func(name string) bool {
		parts := strings.Split(strings.TrimSuffix(name, ".sms"), ".")
		return len(parts) == 4 && parts[2] == tenantID && (subjectID == "" || parts[3] == subjectID)
	})
}

func (o *Outbox) remove(match func(name string) bool) (int, error) {
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return 0, fmt.Errorf("sms: outbox: %w", err)
	}
	n := 0
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".sms") || !match(e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(o.dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("sms: outbox: %w", err)
		}
		n++
	}
	return n, nil
}
