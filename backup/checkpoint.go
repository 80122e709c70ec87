package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// AppendCheckpoint adds cp to the checkpoint file at path [F3], which it creates (mode 0600)
// when missing, thinning old checkpoints (see store.MergeCheckpoints). The file is replaced
// atomically, so that a crash leaves the old or the new one.
func AppendCheckpoint(path string, cp *skjold.AuditCheckpoint) error {
	cps, err := ReadCheckpointFile(path)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := store.WriteCheckpoints(&buf, store.MergeCheckpoints(cps, []*skjold.AuditCheckpoint{cp})); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".checkpoints-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// ReadCheckpointFile reads the checkpoint file at path; a missing file (or path "") holds none.
func ReadCheckpointFile(path string) ([]*skjold.AuditCheckpoint, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	cps, err := store.ReadCheckpoints(f)
	if err != nil {
		return nil, fmt.Errorf("%s is damaged: %w", path, err)
	}
	return cps, nil
}

// ReadCheckpoints reads a target's copy of the checkpoint file; a target without one has none.
func ReadCheckpoints(ctx context.Context, t skjold.Target) ([]*skjold.AuditCheckpoint, error) {
	rc, err := t.Get(ctx, skjold.CheckpointFile)
	if skjold.ErrorCode(err) == skjold.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	defer rc.Close()
	cps, err := store.ReadCheckpoints(rc)
	if err != nil {
		return nil, fmt.Errorf("the checkpoint copy on %s is damaged: %w", t.Name(), err)
	}
	return cps, nil
}

// putCheckpoints merges the local checkpoint file's checkpoints with t's copy and puts the
// result, so that the copy keeps what other nodes (or a server before a restore) wrote.
func putCheckpoints(ctx context.Context, t skjold.Target, local []*skjold.AuditCheckpoint) error {
	theirs, err := ReadCheckpoints(ctx, t)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := store.WriteCheckpoints(&buf, store.MergeCheckpoints(theirs, local)); err != nil {
		return err
	}
	_, err = t.Put(ctx, skjold.CheckpointFile, bytes.NewReader(buf.Bytes()))
	return err
}

// SyncCheckpoints copies the local checkpoint file (Options.Checkpoints) to every target. A
// target that fails does not stop the others; the error names every failure.
func (b *Backuper) SyncCheckpoints(ctx context.Context) error {
	if b.opts.Checkpoints == "" {
		return nil
	}
	local, err := ReadCheckpointFile(b.opts.Checkpoints)
	if err != nil || len(local) == 0 {
		return err
	}
	var errs []error
	for _, t := range b.opts.Targets {
		if err := putCheckpoints(ctx, t, local); err != nil {
			errs = append(errs, fmt.Errorf("%s: audit checkpoints: %w", t.Name(), err))
		}
	}
	return errors.Join(errs...)
}
