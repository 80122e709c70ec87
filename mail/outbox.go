package mail

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/skjold-project/skjold"
)

// outboxTime is the time part of an outbox file name: UTC, so that names sort by time.
const outboxTime = "20060102T150405.000000000Z"

// Outbox is a skjold.Mailer for deployments without a relay: it writes each message, in the
// format the SMTP mailer sends, to its own file "<time>-<random>.eml" in a directory, for
// an operator to read. A file appears whole or not at all, with mode 0600.
type Outbox struct {
	dir  string
	from string
}

var _ skjold.Mailer = (*Outbox)(nil)

// NewOutbox returns an outbox writing to dir, created with mode 0700 if missing, with from
// as the sender. As messages may hold secret links, it refuses a directory that other
// users can read, write or enter. Errors: EINVALID for a malformed from; an internal
// error for a directory that cannot be created or is open to others.
func NewOutbox(dir, from string) (*Outbox, error) {
	if err := checkAddress("from", from); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mail: create outbox: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("mail: outbox: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("mail: outbox %s is not a directory", dir)
	} else if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("mail: outbox %s is open to other users (mode %04o); make it 0700", dir, perm)
	}
	return &Outbox{dir: dir, from: from}, nil
}

// Dir returns the outbox directory.
func (o *Outbox) Dir() string {
	return o.dir
}

// Send writes m to a new file in the outbox and returns once the file and its name are
// on disk. Errors: EINVALID for a malformed message, EUNAVAILABLE wrapping ctx's error when
// ctx has ended, an internal error when the file cannot be written.
func (o *Outbox) Send(ctx context.Context, m skjold.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", skjold.Errorf(skjold.EUNAVAILABLE, "the outbox write was cancelled"), err)
	}
	now := time.Now()
	msg, err := build(o.from, m, now)
	if err != nil {
		return err
	}
	name := now.UTC().Format(outboxTime) + "-" + hex.EncodeToString(randomBytes(8)) + ".eml"
	if err := writeFileAtomic(o.dir, name, msg); err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to dir/name through a temporary file in dir, synced and then
// renamed, so that a reader of dir sees the whole file or none of it, even after a crash.
func writeFileAtomic(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, ".outbox-*.tmp") // mode 0600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && runtime.GOOS != "windows" {
		return err
	}
	return nil
}
