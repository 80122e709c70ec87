package mail

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/skjold-project/skjold"
)

// outboxTime is the time part of an outbox file name: UTC, so that names sort by time.
const outboxTime = "20060102T150405.000000000Z"

// Outbox is a skjold.Mailer for deployments without a relay, a development aid: it writes
// each message, in the format the SMTP mailer sends, to its own file "<time>-<random>.eml"
// in a directory, for an operator to read; a message to a data subject is named
// "<time>-<random>.<tenant id>.<subject id>.eml", so that Forget can remove it when the
// subject is erased. A file appears whole or not at all, with mode 0600. As the files hold
// addresses and one-time codes in clear, Sweep removes them after MaxAge.
type Outbox struct {
	dir  string
	from string

	mu        sync.Mutex
	forgotten map[string]time.Time // "tenant/subject" or "tenant/" → when Forget ran
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
	return &Outbox{dir: dir, from: from, forgotten: map[string]time.Time{}}, nil
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
	if o.isForgotten(m.TenantID, m.SubjectID, now) {
		return nil // the subject was erased while the message was on its way: it must not land
	}
	msg, err := build(o.from, m, now)
	if err != nil {
		return err
	}
	name := now.UTC().Format(outboxTime) + "-" + hex.EncodeToString(randomBytes(8))
	if skjold.ValidID(m.TenantID) && skjold.ValidID(m.SubjectID) {
		name += "." + m.TenantID + "." + m.SubjectID
	}
	name += ".eml"
	if err := writeFileAtomic(o.dir, name, msg); err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	return nil
}

// MaxAge is how long the outbox keeps a message before Sweep removes it.
const MaxAge = 7 * 24 * time.Hour

// Sweep removes the messages written more than MaxAge before now (by the time in their
// name, or their modification time when the name has none) and returns how many it removed.
func (o *Outbox) Sweep(now time.Time) (int, error) {
	return o.remove(func(name string, fi fs.FileInfo) bool {
		at, err := time.Parse(outboxTime, strings.SplitN(name, "-", 2)[0])
		if err != nil {
			at = fi.ModTime()
		}
		return now.Sub(at) > MaxAge
	})
}

// Forget removes every message to subject subjectID of tenant tenantID, or to any subject
// of the tenant when subjectID is "", and returns how many it removed: an erased subject's
// address and codes must not stay behind in the outbox [D4]. A message to them that Send
// gets within forgetFor after (one sent in the background before the erasure) is dropped.
func (o *Outbox) Forget(tenantID, subjectID string) (int, error) {
	o.mu.Lock()
	now := time.Now()
	for k, at := range o.forgotten {
		if now.Sub(at) > forgetFor {
			delete(o.forgotten, k)
		}
	}
	o.forgotten[tenantID+"/"+subjectID] = now
	o.mu.Unlock()
	return o.remove(func(name string, _ fs.FileInfo) bool {
		parts := strings.Split(strings.TrimSuffix(name, ".eml"), ".")
		return len(parts) == 4 && parts[2] == tenantID && (subjectID == "" || parts[3] == subjectID)
	})
}

// forgetFor is how long after Forget a message to the subject is still dropped by Send: the
// server sends subjects' mail in the background, for at most a minute.
const forgetFor = 10 * time.Minute

// isForgotten reports whether Forget ran for the subject (or its tenant) within forgetFor.
func (o *Outbox) isForgotten(tenantID, subjectID string, now time.Time) bool {
	if tenantID == "" {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, k := range []string{tenantID + "/" + subjectID, tenantID + "/"} {
		if at, ok := o.forgotten[k]; ok && now.Sub(at) <= forgetFor {
			return true
		}
	}
	return false
}

// remove removes the outbox's messages that match and returns how many it removed.
func (o *Outbox) remove(match func(name string, fi fs.FileInfo) bool) (int, error) {
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return 0, fmt.Errorf("mail: outbox: %w", err)
	}
	n := 0
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".eml") {
			continue
		}
		fi, err := e.Info()
		if err != nil || !match(e.Name(), fi) {
			continue
		}
		if err := os.Remove(filepath.Join(o.dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("mail: outbox: %w", err)
		}
		n++
	}
	if n > 0 {
		return n, syncDir(o.dir)
	}
	return 0, nil
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
