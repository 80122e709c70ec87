package backup

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// recorder is an Observer that remembers what it heard.
type recorder struct {
	mu        sync.Mutex
	succeeded []string // target names
	failed    []string // kinds
	drills    int
	causes    []Cause
}

func (r *recorder) TargetFailed(cause Cause) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.causes = append(r.causes, cause)
}

func (r *recorder) BackupSucceeded(target string, size int64, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.succeeded = append(r.succeeded, target)
}

func (r *recorder) BackupFailed(kind string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, kind)
}

func (r *recorder) DrillSucceeded(took time.Duration, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drills++
}

// newService returns a Service on f's database with f's two local targets and the given
// off-site ones, holding f's identity when withIdentity.
func newService(f *fixture, offsite []skjold.Target, withIdentity bool) (*Service, *recorder) {
	rec := &recorder{}
	o := ServiceOptions{Recipients: []age.Recipient{f.id.Recipient()}, Local: f.targets, Offsite: offsite,
		Keys: f.keys, Observer: rec, Log: quiet}
	if withIdentity {
		o.Identities = []age.Identity{f.id}
	}
	return NewService(f.db, f.db, o), rec
}

// actions returns the audit actions after seq, in order.
func actions(t *testing.T, f *fixture, after int64) []string {
	t.Helper()
	evs, err := f.db.FindAuditEvents(f.op, skjold.AuditFilter{After: after, Limit: skjold.MaxPageLimit})
	must(t, err)
	var out []string
	for _, e := range evs {
		if e.Action != "audit.read" {
			out = append(out, e.Action)
		}
	}
	return out
}

func chainLength(t *testing.T, f *fixture) int64 {
	t.Helper()
	n, err := f.db.AuditLength(t.Context())
	must(t, err)
	return n
}

func TestServicePasses(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.seed(4)
	offsite, err := NewDir(filepath.Join(t.TempDir(), "offsite"))
	must(t, err)
	s, rec := newService(f, []skjold.Target{offsite}, true)
	ctx := t.Context()

	run, err := s.BackupPass(ctx)
	if err != nil || run.ManifestID == "" || run.Note != "" {
		t.Fatalf("BackupPass = %+v, %v", run, err)
	}
	if want := []string{f.targets[0].Name(), f.targets[1].Name()}; !slices.Equal(rec.succeeded, want) {
		t.Errorf("observed successes on %v, want %v", rec.succeeded, want)
	}
	if ms, _ := List(ctx, offsite); len(ms) != 0 {
		t.Errorf("the scheduled local backup went off-site: %d backups there", len(ms))
	}

	run, err = s.OffsitePass(ctx)
	if err != nil || !strings.Contains(run.Note, "1 of 1") {
		t.Fatalf("OffsitePass = %+v, %v", run, err)
	}
	if m, err := Verify(ctx, offsite, run.ManifestID, []age.Identity{f.id}); err != nil || m.Rows["subjects"] != 4 {
		t.Fatalf("the off-site copy does not verify: %+v, %v", m, err)
	}
	names, _ := offsite.List(ctx)
	if !slices.Contains(names, skjold.JournalFile) {
		t.Errorf("the off-site target has no erasure journal: %v", names)
	}

	run, err = s.DrillPass(ctx)
	if err != nil {
		t.Fatalf("DrillPass: %v", err)
	}
	if c := strings.Count(run.Note, "sample decryption (3 subjects)"); c != 3 || strings.Contains(run.Note, "not checked") {
		t.Errorf("drill note %q: want a full drill with sample decryption on all 3 targets", run.Note)
	}
	if rec.drills != 3 || len(rec.failed) != 0 {
		t.Errorf("observer: %d drills, failures %v", rec.drills, rec.failed)
	}
}

func TestDrillWithoutIdentity(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.seed(1)
	m := f.backup()
	rep, err := Drill(t.Context(), f.targets[0], nil, f.keys)
	if err != nil || rep.BackupID != m.ID || rep.Restored || !strings.Contains(rep.Skipped, "backup_drill_identity_file") ||
		!slices.Equal(rep.Checks, []string{"checksum", "manifest", "master keys of 1 kept backups"}) {
		t.Fatalf("Drill without identity = %+v, %v", rep, err)
	}
	full, err := Drill(t.Context(), f.targets[0], []age.Identity{f.id}, f.keys)
	if err != nil || !full.Restored || full.Decrypted != 1 || full.Chain == 0 || full.Skipped != "" {
		t.Fatalf("Drill with identity = %+v, %v", full, err)
	}
}

// A drill of a damaged backup fails, raises drill.failed, and leaves no scratch copy.
func TestDrillFails(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.seed(2)
	m := f.backup()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	path := filepath.Join(strings.TrimPrefix(f.targets[0].Name(), "local:"), skjold.BackupFile(m.ID))
	flipByte(t, path)
	s, rec := newService(f, nil, true)
	before := chainLength(t, f)
	j := &Job{Kind: skjold.RunDrill, Claims: f.db, Pass: s.DrillPass, Log: quiet}
	err := j.RunSlot(t.Context(), time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC))
	if err == nil || !strings.Contains(err.Error(), f.targets[0].Name()) || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("drill of a damaged backup: %v", err)
	}
	if got := actions(t, f, before); !slices.Equal(got, []string{"drill.failed"}) {
		t.Errorf("audit actions %v, want drill.failed", got)
	}
	if !slices.Equal(rec.failed, []string{"drill"}) || rec.drills != 1 { // the mirror's copy still passes
		t.Errorf("observer: failures %v, %d drills", rec.failed, rec.drills)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "skjold-drill-*")); len(left) != 0 {
		t.Errorf("scratch copies left behind: %v", left)
	}
}

// A local target that is down does not stop the backup; the failure is alerted.
func TestServiceTargetDown(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.seed(1)
	down := newMem("mem:down")
	down.failPuts = 1000
	f.targets = append(f.targets, Retry(down, 2, time.Millisecond))
	s, rec := newService(f, nil, false)
	before := chainLength(t, f)
	run, err := s.BackupPass(t.Context())
	if err != nil || run.ManifestID == "" || !strings.Contains(run.Note, "backup target mem:down: the target failed") ||
		!strings.HasPrefix(run.Note, "on ") {
		t.Fatalf("BackupPass with a target down = %+v, %v", run, err)
	}
	if got := actions(t, f, before); !slices.Equal(got, []string{"backup.copy_failed"}) {
		t.Errorf("audit actions %v, want backup.copy_failed", got)
	}
	if !slices.Equal(rec.failed, []string{"copy"}) || len(rec.succeeded) != 2 || down.puts != 2 {
		t.Errorf("observer: failures %v, successes %v; %d tries on the target down", rec.failed, rec.succeeded, down.puts)
	}
}

// A full target is named with its cause, tried once, and the run says which targets took the
// backup; with no target taking it, the error is EUNAVAILABLE and names the target and cause.
func TestServiceTargetCause(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.seed(1)
	full := newMem("mem:full")
	full.failPuts = 1000
	full.failErr = &fs.PathError{Op: "write", Path: "/b/x", Err: syscall.ENOSPC}
	f.targets = append(f.targets, Retry(full, 3, time.Millisecond))
	s, rec := newService(f, nil, false)
	before := chainLength(t, f)
	run, err := s.BackupPass(t.Context())
	if !slices.Equal(rec.causes, []Cause{CauseFull}) {
		t.Errorf("causes counted %v, want [full]", rec.causes)
	}
	if got := actions(t, f, before); !slices.Equal(got, []string{"backup.copy_failed"}) {
		t.Errorf("audit actions %v, want backup.copy_failed", got)
	}
	if err != nil || !strings.Contains(run.Note, "backup target mem:full: the disk is full") || !strings.HasPrefix(run.Note, "on ") || full.puts != 1 {
		t.Fatalf("BackupPass with a full target = %+v, %v after %d tries; want the cause named after one try", run, err, full.puts)
	}

	g := newFixture(t, "sqlite")
	g.seed(1)
	only := newMem("mem:only")
	only.failPuts = 1000
	only.failErr = full.failErr
	g.targets = []skjold.Target{Retry(only, 3, time.Millisecond)}
	s2, rec2 := newService(g, nil, false)
	run, err = s2.BackupPass(t.Context())
	if run.Cause != "full" || !slices.Equal(rec2.causes, []Cause{CauseFull}) {
		t.Errorf("failed run cause %q, causes counted %v; want full", run.Cause, rec2.causes)
	}
	if skjold.ErrorCode(err) != skjold.EUNAVAILABLE || !strings.Contains(skjold.ErrorMessage(err), "backup target mem:only: the disk is full") {
		t.Errorf("BackupPass with no target taking it = %v (code %s, message %q)", err, skjold.ErrorCode(err), skjold.ErrorMessage(err))
	}
	// Run as a recorded run: the backup.failed alert's fields name the cause.
	before = chainLength(t, g)
	if _, err := s2.Run(g.op); skjold.ErrorCode(err) != skjold.EUNAVAILABLE {
		t.Errorf("Run with no target taking it = %v", err)
	}
	evs, err := g.db.FindAuditEvents(g.op, skjold.AuditFilter{After: before, Limit: skjold.MaxPageLimit})
	must(t, err)
	found := false
	for _, ev := range evs {
		if ev.Action == "backup.failed" && slices.Contains(ev.Fields, "cause: full") {
			found = true
		}
	}
	if !found {
		t.Errorf("no backup.failed event naming the cause among %+v", evs)
	}
}

// A target that stores damaged copies holds no verified backup: rotation refuses and alerts.
func TestServiceRotationRefused(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.seed(1)
	rotten := newMem("mem:rotten")
	rotten.rot = true
	f.targets = []skjold.Target{rotten}
	s, rec := newService(f, nil, false)
	before := chainLength(t, f)
	run, err := s.BackupPass(t.Context())
	if err != nil || !strings.Contains(run.Note, "rotation of mem:rotten failed") {
		t.Fatalf("BackupPass = %+v, %v", run, err)
	}
	if got := actions(t, f, before); !slices.Equal(got, []string{"backup.corrupt", "backup.rotation_refused"}) {
		t.Errorf("audit actions %v, want backup.corrupt and backup.rotation_refused", got)
	}
	if !slices.Equal(rec.failed, []string{"corrupt", "rotation"}) {
		t.Errorf("observer failures %v", rec.failed)
	}
}

// A backup that rots on its target after it was made is found by the next rotation, which
// alerts (backup.corrupt, naming the target and the backup) and does not count it as the
// day's copy: the good backup of that day is kept in its place.
func TestServiceRotationAlertsOnCorruptCopy(t *testing.T) {
	f := newFixture(t, "sqlite")
	mem := newMem("mem:disk")
	good, bad, today := manifest(at(time.UTC, 22, 14, 0), 1), manifest(at(time.UTC, 22, 19, 0), 2), manifest(at(time.UTC, 23, 14, 0), 3)
	put(t, mem, good, false)
	put(t, mem, bad, true)
	put(t, mem, today, false)
	s, rec := newService(f, nil, false)
	s.o.Now = func() time.Time { return at(time.UTC, 23, 20, 0) }
	before := chainLength(t, f)
	if note := s.rotate(t.Context(), mem, today.ID); note != "" {
		t.Fatalf("rotation: %s", note)
	}
	evs, err := f.db.FindAuditEvents(f.op, skjold.AuditFilter{After: before, Limit: 10})
	must(t, err)
	if len(evs) == 0 || evs[0].Action != "backup.corrupt" || !slices.Equal(evs[0].Fields, []string{"mem:disk " + bad.ID}) {
		t.Errorf("audit events %+v, want backup.corrupt naming mem:disk and %s", evs, bad.ID)
	}
	if !slices.Equal(rec.failed, []string{"corrupt"}) {
		t.Errorf("observer failures %v, want one corrupt", rec.failed)
	}
	left, err := List(t.Context(), mem)
	must(t, err)
	if got, want := ids(left...), ids(today, good); !slices.Equal(got, want) {
		t.Errorf("the target keeps %v, want today's backup and the 22nd's good one %v (not the corrupt %s)", got, want, bad.ID)
	}
}

// An off-site copy that arrives damaged is removed and alerted.
func TestServiceOffsiteCopyFails(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.seed(1)
	rotten := newMem("mem:offsite")
	rotten.rot = true
	s, rec := newService(f, []skjold.Target{rotten}, false)
	if _, err := s.BackupPass(t.Context()); err != nil {
		t.Fatal(err)
	}
	before := chainLength(t, f)
	j := &Job{Kind: skjold.RunOffsite, Claims: f.db, Pass: s.OffsitePass, Log: quiet}
	if err := j.RunSlot(t.Context(), time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)); err == nil {
		t.Fatal("an off-site pass with no good copy succeeded")
	}
	got := actions(t, f, before)
	if !slices.Equal(got, []string{"backup.copy_failed", "backup.copy_failed"}) { // the copy, then the run
		t.Errorf("audit actions %v", got)
	}
	if ms, _ := List(t.Context(), rotten); len(ms) != 0 {
		t.Errorf("a damaged off-site copy counts as a backup: %d", len(ms))
	}
	if !slices.Contains(rec.failed, "copy") {
		t.Errorf("observer failures %v", rec.failed)
	}
}

func TestServiceAPI(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.seed(2)
	s, _ := newService(f, nil, true)
	tenant := f.ctx
	if _, err := s.List(tenant); skjold.ErrorCode(err) != skjold.EFORBIDDEN {
		t.Errorf("List as a tenant: %v", err)
	}
	if _, err := s.Run(context.Background()); skjold.ErrorCode(err) != skjold.EUNAUTHORIZED {
		t.Errorf("Run without a caller: %v", err)
	}
	m, err := s.Run(f.op)
	if err != nil || m.SHA256 == "" || m.Rows["subjects"] != 2 {
		t.Fatalf("Run = %+v, %v", m, err)
	}
	list, err := s.List(f.op)
	if err != nil || len(list) != 2 || len(list[0].Backups) != 1 || list[1].Backups[0].ID != m.ID {
		t.Fatalf("List = %+v, %v", list, err)
	}
	checks, err := s.Verify(f.op, m.ID)
	if err != nil || len(checks) != 2 || !checks[0].OK || !checks[1].OK {
		t.Fatalf("Verify = %+v, %v", checks, err)
	}
	flipByte(t, filepath.Join(strings.TrimPrefix(f.targets[1].Name(), "local:"), skjold.BackupFile(m.ID)))
	checks, err = s.Verify(f.op, m.ID)
	if err != nil || !checks[0].OK || checks[1].OK || !strings.Contains(checks[1].Error, "damaged") {
		t.Fatalf("Verify after damage = %+v, %v", checks, err)
	}
	if _, err := s.Verify(f.op, "../etc/passwd"); skjold.ErrorCode(err) != skjold.ENOTFOUND {
		t.Errorf("Verify(bad id): %v", err)
	}
	if _, err := s.Verify(f.op, "20200101T000000Z-00000000"); skjold.ErrorCode(err) != skjold.ENOTFOUND {
		t.Errorf("Verify(unknown id): %v", err)
	}
	runs, err := s.Runs(f.op, 0)
	if err != nil || len(runs) != 1 || runs[0].Kind != skjold.RunManual || runs[0].ManifestID != m.ID || runs[0].Status != skjold.RunOK {
		t.Fatalf("Runs = %+v, %v", runs, err)
	}
	empty := NewService(f.db, f.db, ServiceOptions{Log: quiet})
	if _, err := empty.Run(f.op); skjold.ErrorCode(err) != skjold.EUNAVAILABLE {
		t.Errorf("Run without targets: %v", err)
	}
}

// flipByte flips one bit in the middle of the file at path.
func flipByte(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	b[len(b)/2] ^= 0x01
	must(t, os.WriteFile(path, b, 0o600))
}

// TestServiceSyncJournal: an erasure made after the newest backup reaches every target's
// copy of the journal at the next sync, without a backup; a sync with nothing new writes
// nothing.
func TestServiceSyncJournal(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.seed(2)
	offsite := newMem("mem:offsite")
	s, _ := newService(f, []skjold.Target{offsite}, false)
	ctx := t.Context()
	must(t, s.SyncJournal(ctx))
	if offsite.puts != 0 {
		t.Errorf("an empty journal was copied %d times", offsite.puts)
	}
	_, err := f.db.EraseSubject(f.ctx, f.subjects[0].ID, skjold.ErasedOnRequest)
	must(t, err)
	must(t, s.SyncJournal(ctx))
	for _, tg := range append([]skjold.Target{offsite}, f.targets...) {
		rc, err := tg.Get(ctx, skjold.JournalFile)
		must(t, err)
		entries, err := store.ReadJournal(rc)
		rc.Close()
		must(t, err)
		if len(entries) != 1 || entries[0].SubjectID != f.subjects[0].ID {
			t.Errorf("%s: journal copy %+v, want the erasure", tg.Name(), entries)
		}
	}
	puts := offsite.puts
	must(t, s.SyncJournal(ctx))
	if offsite.puts != puts {
		t.Error("a sync with nothing new copied the journal again")
	}
}

// TestServiceErased: concurrent erasures, each followed by Erased as the server's erasing
// request does, find their line in every local target's journal copy when Erased returns,
// and every line of them is on the off-site target after FlushJournal: concurrent copies to
// one target lose no entry.
func TestServiceErased(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.seed(12)
	offsite := newMem("mem:offsite")
	s, _ := newService(f, []skjold.Target{offsite}, false)
	var wg sync.WaitGroup
	for _, sub := range f.subjects {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.db.EraseSubject(f.ctx, sub.ID, skjold.ErasedOnRequest); err != nil {
				t.Error(err)
				return
			}
			s.Erased(f.ctx)
			for _, tg := range f.targets {
				if !slices.Contains(journalSubjects(t, tg), sub.ID) {
					t.Errorf("%s lacks the erasure of %s once Erased returned", tg.Name(), sub.ID)
				}
			}
		}()
	}
	wg.Wait()
	must(t, s.FlushJournal(t.Context()))
	for _, tg := range append([]skjold.Target{offsite}, f.targets...) {
		if got := journalSubjects(t, tg); len(got) != len(f.subjects) {
			t.Errorf("%s holds %d erasures after the flush, want %d", tg.Name(), len(got), len(f.subjects))
		}
	}
}

// journalSubjects returns the subject ids in target tg's journal copy.
func journalSubjects(t *testing.T, tg skjold.Target) []string {
	t.Helper()
	rc, err := tg.Get(t.Context(), skjold.JournalFile)
	if skjold.ErrorCode(err) == skjold.ENOTFOUND {
		return nil
	}
	must(t, err)
	defer rc.Close()
	entries, err := store.ReadJournal(rc)
	must(t, err)
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.SubjectID)
	}
	return ids
}
