package store

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/skjold-project/skjold"
)

// restoredAction is the audit event a restore appends before it changes anything: checkpoints
// taken before it, of more events than the restore brought back, belong to a chain the restore
// replaced, and no longer apply (see checkpointCheck.replaced).
const restoredAction = "backup.restored"

// AuditCheckpoint returns a signed checkpoint of the chain head this process last committed,
// or, before its first write, of the stored head. The head a process committed itself is
// preferred: rows changed behind its back since are not signed.
func (db *DB) AuditCheckpoint(ctx context.Context) (*skjold.AuditCheckpoint, error) {
	head := db.committed.Load()
	if head == nil {
		var h chainHead
		if err := db.queryRow(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&h.seq, &h.hash); err != nil {
			return nil, fmt.Errorf("store: read audit head: %w", err)
		}
		head = &h
	}
	cp := &skjold.AuditCheckpoint{Seq: head.seq, Head: head.hash, Time: db.now().UTC().Truncate(time.Microsecond), Key: db.audit.id}
	cp.MAC = db.audit.sign(cp)
	return cp, nil
}

// sign is HMAC-SHA-256 under the checkpoint key over the checkpoint's seq, time and head.
func (k *auditKey) sign(cp *skjold.AuditCheckpoint) []byte {
	m := hmac.New(sha256.New, k.checkpoint)
	m.Write([]byte("skjold/audit/checkpoint/v1"))
	var n [8]byte
	for _, v := range []int64{cp.Seq, micros(cp.Time), int64(len(cp.Head))} {
		binary.BigEndian.PutUint64(n[:], uint64(v))
		m.Write(n[:])
	}
	m.Write(cp.Head)
	return m.Sum(nil)
}

// MarkRestored appends the event that tells checkpoints of the chain before a restore from
// those after it. A restore calls it first, before it replays the erasure journal.
func (db *DB) MarkRestored(ctx context.Context, backupID string) error {
	c, err := skjold.OperatorCaller(ctx)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		tx.audit(&skjold.AuditEvent{Actor: c.Actor, Action: restoredAction, Source: c.Source, Fields: []string{"backup:" + backupID}})
		return nil
	})
}

// VerifyAuditCheckpoints verifies the chain as VerifyAuditChain does, and checks it against
// checkpoints [F3]: each must be signed by this database's audit key, and the event at its
// seq must exist and carry its head. A checkpoint taken before a restore, of more events than
// the restore brought back, is counted as superseded instead. It returns a *skjold.ChainError
// for the first mismatch.
func (db *DB) VerifyAuditCheckpoints(ctx context.Context, cps []*skjold.AuditCheckpoint) (skjold.ChainReport, error) {
	check, err := db.audit.newCheck(cps)
	if err != nil {
		return skjold.ChainReport{}, err
	}
	return db.verifyChain(ctx, check)
}

// checkpointCheck follows the chain walk and compares each event with the checkpoints at its seq.
type checkpointCheck struct {
	k                   *auditKey
	bySeq               map[int64][]*skjold.AuditCheckpoint
	restores            []*skjold.AuditEvent
	checked, superseded int
}

func (k *auditKey) newCheck(cps []*skjold.AuditCheckpoint) (*checkpointCheck, error) {
	c := &checkpointCheck{k: k, bySeq: map[int64][]*skjold.AuditCheckpoint{}}
	for _, cp := range cps {
		if cp.Key == k.id && !hmac.Equal(k.sign(cp), cp.MAC) {
			return nil, &skjold.ChainError{Seq: cp.Seq, Reason: fmt.Sprintf(
				"the checkpoint of %s does not verify under the audit key: the checkpoint file was altered", stamp(cp))}
		}
		if cp.Seq > 0 {
			c.bySeq[cp.Seq] = append(c.bySeq[cp.Seq], cp)
		}
	}
	return c, nil
}

func stamp(cp *skjold.AuditCheckpoint) string { return cp.Time.UTC().Format(time.RFC3339) }

// replaced reports whether a restore made after cp brought back fewer events than cp names.
func (c *checkpointCheck) replaced(cp *skjold.AuditCheckpoint) bool {
	for _, r := range c.restores {
		if r.Seq <= cp.Seq && cp.Time.Before(r.Time) {
			return true
		}
	}
	return false
}

// event checks the checkpoints at e's seq; e has been checked against its predecessor.
func (c *checkpointCheck) event(e *skjold.AuditEvent) error {
	if e.Action == restoredAction && e.Seq >= c.k.from { // an unkeyed event could be forged
		c.restores = append(c.restores, e)
	}
	for _, cp := range c.bySeq[e.Seq] {
		switch {
		case c.replaced(cp):
			c.superseded++
		case bytes.Equal(cp.Head, e.Hash):
			// Whichever key signed it: a restore of a backup older than the audit key makes a
			// new key, and its chain still matches the old checkpoints up to the backup.
			c.checked++
		case cp.Key != c.k.id:
			return &skjold.ChainError{Seq: e.Seq, Reason: fmt.Sprintf(
				"the checkpoint of %s was signed by another audit key: the database's audit key was replaced", stamp(cp))}
		default:
			return &skjold.ChainError{Seq: e.Seq, Reason: fmt.Sprintf(
				"it does not match the checkpoint of %s: the chain was rewritten", stamp(cp))}
		}
	}
	delete(c.bySeq, e.Seq)
	return nil
}

// end checks the checkpoints beyond the chain's length.
func (c *checkpointCheck) end(length int64) error {
	for _, cps := range c.bySeq {
		for _, cp := range cps {
			if !c.replaced(cp) {
				return &skjold.ChainError{Seq: length + 1, Reason: fmt.Sprintf("the checkpoint of %s records %d events but only %d are present: events were removed from the end",
					stamp(cp), cp.Seq, length)}
			}
			c.superseded++
		}
	}
	return nil
}

// checkpointKeep is how far back from the newest checkpoint a checkpoint file keeps every
// checkpoint; before that it keeps the last of each day (UTC).
const checkpointKeep = 24 * time.Hour

// MergeCheckpoints returns the union of checkpoint lists, oldest first, thinned: every
// checkpoint of the last day before the newest, and the last of each earlier day. The newest
// is what detects a truncation; the older ones still check a chain restored from a backup.
func MergeCheckpoints(lists ...[]*skjold.AuditCheckpoint) []*skjold.AuditCheckpoint {
	type key struct {
		seq, at int64
		mac     string
	}
	seen := map[key]bool{}
	var all []*skjold.AuditCheckpoint
	for _, l := range lists {
		for _, cp := range l {
			k := key{cp.Seq, micros(cp.Time), string(cp.MAC)}
			if !seen[k] {
				seen[k] = true
				all = append(all, cp)
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].Time.Equal(all[j].Time) {
			return all[i].Time.Before(all[j].Time)
		}
		return all[i].Seq < all[j].Seq
	})
	if len(all) == 0 {
		return all
	}
	recent := all[len(all)-1].Time.Add(-checkpointKeep)
	out := all[:0]
	for i, cp := range all {
		lastOfDay := i+1 == len(all) || !sameDay(cp.Time, all[i+1].Time)
		if !cp.Time.Before(recent) || lastOfDay {
			out = append(out, cp)
		}
	}
	return out
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.UTC().Date()
	by, bm, bd := b.UTC().Date()
	return ay == by && am == bm && ad == bd
}

// ReadCheckpoints reads a checkpoint file: JSON lines of skjold.AuditCheckpoint.
func ReadCheckpoints(r io.Reader) ([]*skjold.AuditCheckpoint, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var out []*skjold.AuditCheckpoint
	for {
		var cp skjold.AuditCheckpoint
		err := dec.Decode(&cp)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("checkpoint %d: %w", len(out)+1, err)
		}
		out = append(out, &cp)
	}
}

// WriteCheckpoints writes checkpoints as ReadCheckpoints reads them.
func WriteCheckpoints(w io.Writer, cps []*skjold.AuditCheckpoint) error {
	enc := json.NewEncoder(w)
	for _, cp := range cps {
		if err := enc.Encode(cp); err != nil {
			return err
		}
	}
	return nil
}
