package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"
	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// RunStore records backup runs and their alerts; *store.DB implements it.
type RunStore interface {
	Claimer
	AuditBackupEvent(ctx context.Context, action, about string) error
	FindBackupRuns(ctx context.Context, limit int) ([]*skjold.BackupRun, error)
}

// Observer hears how backups, copies, rotations and drills went, for /metrics;
// *http.Metrics implements it.
type Observer interface {
	// BackupSucceeded: target holds a backup of size bytes taken at at.
	BackupSucceeded(target string, size int64, at time.Time)
	// BackupFailed counts a failure of kind "backup", "copy", "rotation", "corrupt" (a backup
	// that fails its checksum) or "drill".
	BackupFailed(kind string)
	// DrillSucceeded: a drill that took took passed at at.
	DrillSucceeded(took time.Duration, at time.Time)
}

// ServiceOptions configure a Service.
type ServiceOptions struct {
	Recipients []age.Recipient
	Local      []skjold.Target // the scheduled backups go here (a mirror when two)
	Offsite    []skjold.Target // the newest backup is copied here once a day
	// Identities decrypt backups for drills and deep verification; none (the default: the
	// server holds only public recipients) limits both to checksums and manifests.
	Identities []age.Identity
	Keys       skjold.KeyService // the master keyring, for the drill's sample decryption
	Keep       int               // days of backups rotation keeps; 0 for DefaultKeep
	Zone       *time.Location    // the zone rotation counts days in; nil for UTC
	Observer   Observer          // nil for none
	Log        *slog.Logger
	Now        func() time.Time // defaults to time.Now
	TempDir    string           // where backups are sealed; "" for the system's
	// Checkpoints is the local audit checkpoint file, copied to every target with the
	// erasure journal [F3]; "" for none.
	Checkpoints string
}

// Service runs the scheduled passes (backup, off-site copy, drill) and serves the operator's
// backup API; it implements skjold.BackupService.
type Service struct {
	db                    *store.DB
	runs                  RunStore
	synced                atomic.Int64 // the journal seq last copied to every target
	checkpointsSynced     atomic.Int64 // the checkpoint file's modification time (ns) last copied
	copying               atomic.Bool  // a copy of the journal to every target runs in the background
	again                 atomic.Bool  // an erasure came during that copy: copy once more
	bg                    sync.WaitGroup
	o                     ServiceOptions
	local, offsite, every *Backuper
	log                   *slog.Logger
}

var _ skjold.BackupService = (*Service)(nil)

// NewService returns a Service that snapshots db and records runs in runs (usually db too).
func NewService(db *store.DB, runs RunStore, o ServiceOptions) *Service {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Zone == nil {
		o.Zone = time.UTC
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	mk := func(ts []skjold.Target) *Backuper {
		return New(db, Options{Recipients: o.Recipients, Targets: ts, Log: o.Log, Now: o.Now, TempDir: o.TempDir,
			Checkpoints: o.Checkpoints})
	}
	s := &Service{db: db, runs: runs, o: o, log: o.Log.With("component", "backup")}
	s.local, s.offsite, s.every = mk(o.Local), mk(o.Offsite), mk(s.targets())
	return s
}

// SyncJournal copies the erasure journal to every target when it has grown since this
// service last copied it [D4]: an erasure made after the newest backup must reach the
// targets before a disaster, or a restore of that backup could not erase it again. The
// server runs it every minute; a failed copy is tried again at the next pass. The audit
// checkpoint file goes with it, and on its own when only it has changed [F3].
func (s *Service) SyncJournal(ctx context.Context) error {
	seq, err := s.db.JournalSeq(ctx)
	if err != nil {
		return err
	}
	changed := s.checkpointsChanged()
	switch {
	case seq > s.synced.Load():
		err = s.every.SyncJournal(ctx)
	case changed != 0:
		err = s.every.SyncCheckpoints(ctx)
	default:
		return nil
	}
	if err != nil {
		return err
	}
	s.synced.Store(seq)
	if changed != 0 {
		s.checkpointsSynced.Store(changed)
	}
	return nil
}

// checkpointsChanged returns the checkpoint file's modification time when it differs from
// the one last copied, else 0.
func (s *Service) checkpointsChanged() int64 {
	if s.o.Checkpoints == "" {
		return 0
	}
	fi, err := os.Stat(s.o.Checkpoints)
	if err != nil || fi.ModTime().UnixNano() == s.checkpointsSynced.Load() {
		return 0
	}
	return fi.ModTime().UnixNano()
}

// Erased is what the server does, in the erasing request, once an erasure has committed
// (store.Options.OnErasure) [D4]: the erasure journal is appended to every local target
// before the request is answered, and a copy to every target starts in the background
// (the remote ones are behind until it lands, or the periodic SyncJournal does; a graceful
// shutdown waits for it in FlushJournal). A failed local copy is logged, counted as a
// failed copy and tried again by the next pass; the erasure itself stands.
func (s *Service) Erased(ctx context.Context) {
	if len(s.o.Local) > 0 {
		if err := s.local.SyncJournal(context.WithoutCancel(ctx)); err != nil {
			s.o.Observer.BackupFailed("copy")
			s.log.Error("erasure journal copy to the local targets failed", "err", err)
		}
	}
	if len(s.o.Offsite) > 0 {
		s.copyInBackground()
	}
}

// copyInBackground runs SyncJournal in the background, once more if it is asked again while
// it runs. A copy that fails is logged; the periodic SyncJournal tries again.
func (s *Service) copyInBackground() {
	s.again.Store(true)
	if !s.copying.CompareAndSwap(false, true) {
		return // the running copy sees again and copies once more
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		for {
			for s.again.Swap(false) {
				ctx, cancel := context.WithTimeout(context.Background(), journalCopyTimeout)
				if err := s.SyncJournal(ctx); err != nil {
					s.log.Error("erasure journal copy failed; the next pass tries again", "err", err)
				}
				cancel()
			}
			s.copying.Store(false)
			// A call that came after the last Swap saw copying still set and left it to us.
			if !s.again.Load() || !s.copying.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

// journalCopyTimeout bounds one background copy of the journal to every target.
const journalCopyTimeout = 5 * time.Minute

// FlushJournal is the server's last act on a graceful shutdown: it waits for a background
// copy of the journal, then copies the journal to every target that may lack an entry,
// within ctx, so that no erasure made before the shutdown is missing from any target's copy.
func (s *Service) FlushJournal(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.SyncJournal(ctx)
}

// targets returns every target, local first.
func (s *Service) targets() []skjold.Target {
	return append(append([]skjold.Target{}, s.o.Local...), s.o.Offsite...)
}

// BackupPass is the scheduled backup's work: a backup onto the local targets (onto the
// off-site ones when there are no local ones), then rotation of each. A target that failed
// raises backup.copy_failed; a refused rotation raises backup.rotation_refused; the pass fails
// (backup.failed, recorded by the Job) when no target holds the backup.
func (s *Service) BackupPass(ctx context.Context) (*skjold.BackupRun, error) {
	b, ts := s.local, s.o.Local
	if len(ts) == 0 {
		b, ts = s.offsite, s.o.Offsite
	}
	return s.backupOnto(ctx, b, ts)
}

func (s *Service) backupOnto(ctx context.Context, b *Backuper, ts []skjold.Target) (*skjold.BackupRun, error) {
	m, err := b.Run(ctx)
	if m == nil {
		if err == nil {
			err = errors.New("backup: no manifest")
		}
		s.o.Observer.BackupFailed("backup")
		run := &skjold.BackupRun{}
		var causes []string
		for _, te := range targetErrors(err) {
			if co, ok := s.o.Observer.(CauseObserver); ok {
				co.TargetFailed(te.Cause)
			}
			if !slices.Contains(causes, string(te.Cause)) {
				causes = append(causes, string(te.Cause))
			}
		}
		run.Cause = strings.Join(causes, ", ") // in the backup.failed alert
		return run, err
	}
	run := &skjold.BackupRun{ManifestID: m.ID}
	failed := map[string]*TargetError{}
	for _, te := range targetErrors(err) {
		if failed[te.Target] == nil {
			failed[te.Target] = te
		}
	}
	var on, notes []string
	for _, t := range ts {
		if !s.holds(ctx, t, m) {
			te := failed[t.Name()]
			if te == nil {
				te = &TargetError{Target: t.Name(), Cause: CauseUnknown, Words: "the backup did not arrive",
					Err: errors.New("the target does not list the backup whole")}
			}
			s.copyFailed(ctx, t, te)
			notes = append(notes, te.Short())
			continue
		}
		on = append(on, t.Name())
		s.o.Observer.BackupSucceeded(t.Name(), m.Size, m.Time)
		if n := s.rotate(ctx, t, m.ID); n != "" {
			notes = append(notes, n)
		}
	}
	if len(notes) > 0 && len(on) > 0 { // say which targets took it, and which did not
		notes = append([]string{"on " + strings.Join(on, ", ")}, notes...)
	}
	run.Note = strings.Join(notes, "; ")
	return run, nil
}

// holds reports whether t lists backup m whole.
func (s *Service) holds(ctx context.Context, t skjold.Target, m *skjold.Manifest) bool {
	ms, err := List(ctx, t)
	if err != nil {
		return false
	}
	for _, have := range ms {
		if have.ID == m.ID && have.SHA256 == m.SHA256 {
			return true
		}
	}
	return false
}

// CauseObserver is an Observer that also counts target failures by cause; the backup service
// uses it when its Observer implements it.
type CauseObserver interface {
	TargetFailed(cause Cause)
}

// copyFailed alerts that target t lacks a copy it should have; the alert names the target and
// the cause in plain words.
func (s *Service) copyFailed(ctx context.Context, t skjold.Target, te *TargetError) {
	s.o.Observer.BackupFailed("copy")
	if co, ok := s.o.Observer.(CauseObserver); ok {
		co.TargetFailed(te.Cause)
	}
	s.log.Error("backup copy failed", "target", t.Name(), "cause", string(te.Cause), "err", te.Err)
	if err := s.runs.AuditBackupEvent(context.WithoutCancel(ctx), "backup.copy_failed", te.Short()); err != nil {
		s.log.Error("recording a failed copy", "err", err)
	}
}

// rotate rotates t, keeping backup id (just made or copied), and returns a note when that
// failed; a refusal raises backup.rotation_refused. Each corrupt backup it found raises
// backup.corrupt, naming the target and the backup.
func (s *Service) rotate(ctx context.Context, t skjold.Target, id string) string {
	rep, err := rotate(ctx, t, s.o.Keep, s.o.Now().In(s.o.Zone), id)
	if rep != nil {
		s.corrupt(ctx, t, rep.Corrupt)
	}
	if err == nil {
		if len(rep.Deleted) > 0 || len(rep.Orphans) > 0 {
			s.log.Info("rotated", "target", t.Name(), "kept", len(rep.Kept), "deleted", len(rep.Deleted), "orphans", len(rep.Orphans))
		}
		return ""
	}
	s.o.Observer.BackupFailed("rotation")
	s.log.Error("rotation failed", "target", t.Name(), "err", err)
	if errors.Is(err, ErrNoVerifiedCopy) {
		if aerr := s.runs.AuditBackupEvent(context.WithoutCancel(ctx), "backup.rotation_refused", t.Name()); aerr != nil {
			s.log.Error("recording a refused rotation", "err", aerr)
		}
	}
	return "rotation of " + t.Name() + " failed"
}

// corrupt alerts that target t holds backups whose checksum fails.
func (s *Service) corrupt(ctx context.Context, t skjold.Target, ids []string) {
	for _, id := range ids {
		s.o.Observer.BackupFailed("corrupt")
		s.log.Error("a backup fails its checksum", "target", t.Name(), "backup", id)
		if err := s.runs.AuditBackupEvent(context.WithoutCancel(ctx), "backup.corrupt", t.Name()+" "+id); err != nil {
			s.log.Error("recording a corrupt backup", "err", err)
		}
	}
}

// OffsitePass is the daily off-site copy's work [E2]: the newest backup that passes its
// checksum on a local target is copied to every off-site target (checksummed after upload),
// with the erasure journal, and each is rotated. Without local targets it makes a fresh
// backup onto the off-site ones. A failed copy raises backup.copy_failed; the pass fails when
// no off-site target got a copy.
func (s *Service) OffsitePass(ctx context.Context) (*skjold.BackupRun, error) {
	switch {
	case len(s.o.Offsite) == 0:
		return &skjold.BackupRun{Note: "no off-site target is configured"}, nil
	case len(s.o.Local) == 0:
		return s.backupOnto(ctx, s.offsite, s.o.Offsite)
	}
	from, m, err := s.newestLocal(ctx)
	if err != nil {
		return &skjold.BackupRun{}, err
	}
	copied := 0
	for _, t := range s.o.Offsite {
		if err := copyBackup(ctx, from, t, m); err != nil {
			s.copyFailed(ctx, t, newTargetError(t.Name(), err))
			continue
		}
		copied++
		s.o.Observer.BackupSucceeded(t.Name(), m.Size, m.Time)
		s.rotate(ctx, t, m.ID)
	}
	if err := s.offsite.SyncJournal(ctx); err != nil {
		s.log.Error("erasure journal copy failed", "err", err)
	}
	run := &skjold.BackupRun{ManifestID: m.ID, Note: fmt.Sprintf("copied from %s to %d of %d off-site targets", from.Name(), copied, len(s.o.Offsite))}
	if copied == 0 {
		return run, fmt.Errorf("no off-site target got backup %s", m.ID)
	}
	return run, nil
}

// newestLocal returns the newest backup on a local target that passes its checksum.
func (s *Service) newestLocal(ctx context.Context) (skjold.Target, *skjold.Manifest, error) {
	var errs []error
	for _, t := range s.o.Local {
		m, err := Verify(ctx, t, "", nil)
		if err == nil {
			return t, m, nil
		}
		errs = append(errs, err)
	}
	return nil, nil, fmt.Errorf("no local backup to copy off-site: %w", errors.Join(errs...))
}

// copyBackup copies backup m from one target to another: the file, whose checksum the
// destination must report back equal to the manifest's and which is then read back and
// checked again (a target that reports one thing and keeps another is caught), then the
// manifest, so that the copy counts only once it is whole.
func copyBackup(ctx context.Context, from, to skjold.Target, m *skjold.Manifest) error {
	if err := copyObject(ctx, from, to, skjold.BackupFile(m.ID), m.SHA256); err != nil {
		return err
	}
	if err := checksum(ctx, to, m); err != nil {
		to.Delete(ctx, skjold.BackupFile(m.ID))
		return fmt.Errorf("read back: %w", err)
	}
	return copyObject(ctx, from, to, skjold.ManifestFile(m.ID), "")
}

func copyObject(ctx context.Context, from, to skjold.Target, name, want string) error {
	rc, err := from.Get(ctx, name)
	if err != nil {
		return fmt.Errorf("read %s from %s: %w", name, from.Name(), err)
	}
	defer rc.Close()
	sum, err := to.Put(ctx, name, io.Reader(rc))
	if err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	if want != "" && sum != want {
		to.Delete(ctx, name)
		return fmt.Errorf("the copy of %s does not match its manifest's checksum: removed", name)
	}
	return nil
}

// DrillPass is the daily restore drill's work [E4]: Drill on every target; each passing drill
// is observed; the pass fails (drill.failed) when any target's drill fails.
func (s *Service) DrillPass(ctx context.Context) (*skjold.BackupRun, error) {
	run := &skjold.BackupRun{}
	var notes []string
	var errs []error
	for _, t := range s.targets() {
		rep, err := Drill(ctx, t, s.o.Identities, s.o.Keys)
		if run.ManifestID == "" && rep != nil {
			run.ManifestID = rep.BackupID
		}
		if err != nil {
			s.o.Observer.BackupFailed("drill")
			errs = append(errs, err)
			continue
		}
		s.o.Observer.DrillSucceeded(rep.Took, s.o.Now())
		notes = append(notes, rep.Note())
		s.log.Info("drill passed", "target", t.Name(), "backup", rep.BackupID, "took", rep.Took.Round(time.Millisecond).String(),
			"skipped", rep.Skipped)
	}
	run.Note = strings.Join(notes, "; ")
	if len(s.targets()) == 0 {
		return run, errors.New("no backup target is configured")
	}
	return run, errors.Join(errs...)
}

// List returns every target's backups, newest first.
func (s *Service) List(ctx context.Context) ([]*skjold.TargetBackups, error) {
	if _, err := skjold.OperatorCaller(ctx); err != nil {
		return nil, err
	}
	out := []*skjold.TargetBackups{}
	for _, t := range s.targets() {
		tb := &skjold.TargetBackups{Target: t.Name(), Backups: []*skjold.Manifest{}}
		if ms, err := List(ctx, t); err != nil {
			s.log.Error("listing backups failed", "target", t.Name(), "err", err)
			tb.Error = "the target could not be listed"
		} else if ms != nil {
			tb.Backups = ms
		}
		out = append(out, tb)
	}
	return out, nil
}

// Run makes a backup now onto every target, as one manual run, and rotates them.
func (s *Service) Run(ctx context.Context) (*skjold.Manifest, error) {
	if _, err := skjold.OperatorCaller(ctx); err != nil {
		return nil, err
	}
	if len(s.targets()) == 0 {
		return nil, skjold.Errorf(skjold.EUNAVAILABLE, "no backup target is configured: set backup_dirs, or an SFTP or S3 target")
	}
	now := s.o.Now()
	slot := Slot(skjold.RunManual, now) + "-" + NewID(now)[17:]
	var m *skjold.Manifest
	j := &Job{Kind: skjold.RunManual, Claims: s.runs, Log: s.log, Pass: func(ctx context.Context) (*skjold.BackupRun, error) {
		run, err := s.backupOnto(ctx, s.every, s.targets())
		if run != nil && run.ManifestID != "" {
			m = &skjold.Manifest{ID: run.ManifestID}
		}
		return run, err
	}}
	if err := j.runClaimed(ctx, slot); err != nil {
		return nil, err
	}
	for _, t := range s.targets() { // the whole manifest, from a target that holds it
		if full, err := readManifest(ctx, t, m.ID); err == nil {
			return full, nil
		}
	}
	return m, nil
}

// Verify checks backup id on every target that holds it.
func (s *Service) Verify(ctx context.Context, id string) ([]*skjold.BackupCheck, error) {
	if _, err := skjold.OperatorCaller(ctx); err != nil {
		return nil, err
	}
	if !ValidID(id) { // as for every malformed id: no such object
		return nil, skjold.Errorf(skjold.ENOTFOUND, "no backup has the id %q: ids look like 20261123T140000Z-1a2b3c4d", id)
	}
	out := []*skjold.BackupCheck{}
	for _, t := range s.targets() {
		m, err := Verify(ctx, t, id, s.o.Identities)
		if skjold.ErrorCode(err) == skjold.ENOTFOUND {
			continue
		}
		c := &skjold.BackupCheck{Target: t.Name(), OK: err == nil, Manifest: m}
		if err != nil {
			c.Error = err.Error()
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, skjold.Errorf(skjold.ENOTFOUND, "no target holds backup %s", id)
	}
	return out, nil
}

// Runs returns the recorded runs, newest first; limit 0 means skjold.DefaultPageLimit.
func (s *Service) Runs(ctx context.Context, limit int) ([]*skjold.BackupRun, error) {
	if limit == 0 {
		limit = skjold.DefaultPageLimit
	}
	return s.runs.FindBackupRuns(ctx, limit)
}

type nopObserver struct{}

func (nopObserver) BackupSucceeded(string, int64, time.Time) {}
func (nopObserver) BackupFailed(string)                      {}
func (nopObserver) DrillSucceeded(time.Duration, time.Time)  {}
