package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// SyncJournal copies the erasure journal to every target [D4], so that an erasure made after
// the newest backup is erased again after a restore, and with it the audit checkpoints [F3].
// Run does it after each backup; the server should also call it after erasures (or often),
// since a backup's copy ends at the backup. A target that fails does not stop the others; the
// error names every failure.
func (b *Backuper) SyncJournal(ctx context.Context) error {
	dir, err := os.MkdirTemp(b.opts.TempDir, "skjold-journal-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(dir)
	path, err := b.journalFile(ctx, dir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	var errs []error
	for _, t := range b.opts.Targets {
		if err := putJournal(ctx, t, path); err != nil {
			errs = append(errs, fmt.Errorf("%s: erasure journal: %w", t.Name(), err))
		}
	}
	return errors.Join(append(errs, b.SyncCheckpoints(ctx))...)
}

// journalFile writes the database's erasure journal to a file in dir.
func (b *Backuper) journalFile(ctx context.Context, dir string) (string, error) {
	f, err := os.CreateTemp(dir, "journal-*.jsonl")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := b.db.WriteJournal(ctx, f); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), f.Close()
}

// journalLocks holds one mutex per target name (see putJournal).
var journalLocks sync.Map

// putJournal merges the database's journal at path with the target's copy and puts the
// result: the copy only ever grows, even when this database lacks entries the copy has (a
// restore that another target's copy fed). Entries that disagree under one seq are refused.
// Copies to one target are made one at a time, each reading the copy the last one put, so
// that concurrent copies (an erasing request's and the periodic one) lose no entry.
func putJournal(ctx context.Context, t skjold.Target, path string) error {
	mu, _ := journalLocks.LoadOrStore(t.Name(), &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	ours, err := store.ReadJournal(f)
	f.Close()
	if err != nil {
		return err
	}
	theirs, err := readJournal(ctx, t)
	if err != nil {
		return err
	}
	merged, err := mergeJournals(theirs, ours)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, e := range merged {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	_, err = t.Put(ctx, skjold.JournalFile, bytes.NewReader(buf.Bytes())) // seekable: a retry sends it again
	return err
}

// readJournal reads a target's copy of the erasure journal; a target without one has none.
func readJournal(ctx context.Context, t skjold.Target) ([]*skjold.JournalEntry, error) {
	rc, err := t.Get(ctx, skjold.JournalFile)
	if skjold.ErrorCode(err) == skjold.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	entries, err := store.ReadJournal(rc)
	if err != nil {
		return nil, fmt.Errorf("the copy on %s is damaged: %w", t.Name(), err)
	}
	return entries, nil
}

// mergeJournals returns the union of two journals by seq, in order.
func mergeJournals(a, b []*skjold.JournalEntry) ([]*skjold.JournalEntry, error) {
	out := make([]*skjold.JournalEntry, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Seq < b[j].Seq):
			out, i = append(out, a[i]), i+1
		case i == len(a) || b[j].Seq < a[i].Seq:
			out, j = append(out, b[j]), j+1
		default:
			if !sameEntry(a[i], b[j]) {
				return nil, fmt.Errorf("the copy and the database disagree about entry %d", a[i].Seq)
			}
			out, i, j = append(out, a[i]), i+1, j+1
		}
	}
	return out, nil
}

func sameEntry(a, b *skjold.JournalEntry) bool {
	return a.Seq == b.Seq && a.Time.Equal(b.Time) && a.TenantID == b.TenantID && a.SubjectID == b.SubjectID &&
		a.Kind == b.Kind && a.Reason == b.Reason
}

// copyFile is io.Copy into a new 0600 file at path.
func copyFile(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
