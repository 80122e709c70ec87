package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

// Defaults of the schedules [E1, E2, E4]: local backups at 14:00 and 19:00, the off-site
// copy at 02:00 and the restore drill at 04:00, each in the configured zone.
const (
	DefaultTimes       = "14:00,19:00"
	DefaultOffsiteTime = "02:00"
	DefaultDrillTime   = "04:00"
)

// Schedule is a set of times of day in a time zone.
type Schedule struct {
	times []int // minutes after midnight, sorted, unique
	loc   *time.Location
}

// ParseSchedule reads times such as "14:00,19:00" (24-hour HH:MM, comma-separated) in zone,
// an IANA name such as "Europe/Oslo", "UTC", or "" for the machine's zone. Errors name the
// value at fault; nothing is scheduled from a bad value.
func ParseSchedule(times, zone string) (*Schedule, error) {
	loc := time.Local
	if zone != "" {
		var err error
		if loc, err = time.LoadLocation(zone); err != nil {
			return nil, fmt.Errorf("time zone %q is not a known zone name (such as Europe/Oslo or UTC)", zone)
		}
	}
	s := &Schedule{loc: loc}
	for part := range strings.SplitSeq(times, ",") {
		m, err := parseClock(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		if !slices.Contains(s.times, m) {
			s.times = append(s.times, m)
		}
	}
	slices.Sort(s.times)
	return s, nil
}

// parseClock reads "HH:MM" as minutes after midnight.
func parseClock(v string) (int, error) {
	h, m, ok := strings.Cut(v, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(h) != 2 || len(m) != 2 || hh > 23 || mm > 59 || hh < 0 || mm < 0 {
		return 0, fmt.Errorf("time of day %q: use HH:MM on a 24-hour clock, such as 14:00", v)
	}
	return hh*60 + mm, nil
}

// Location returns the schedule's time zone.
func (s *Schedule) Location() *time.Location { return s.loc }

// String returns the schedule as ParseSchedule reads it, with its zone.
func (s *Schedule) String() string {
	parts := make([]string, len(s.times))
	for i, m := range s.times {
		parts[i] = fmt.Sprintf("%02d:%02d", m/60, m%60)
	}
	return strings.Join(parts, ",") + " " + s.loc.String()
}

// Next returns the first scheduled instant strictly after after. Each time of day is taken
// on the wall clock of the schedule's zone, through time.Date, so a daylight-saving change
// moves no backup: a time that does not exist that day (skipped by the clocks going
// forward) runs at the moment the clocks jumped to, and a time that happens twice (the
// clocks going back) runs once.
func (s *Schedule) Next(after time.Time) time.Time {
	local := after.In(s.loc)
	y, mo, d := local.Date()
	for day := 0; day <= 2; day++ {
		var best time.Time
		for _, m := range s.times {
			c := time.Date(y, mo, d+day, m/60, m%60, 0, 0, s.loc)
			if c.After(after) && (best.IsZero() || c.Before(best)) {
				best = c
			}
		}
		if !best.IsZero() {
			return best
		}
	}
	panic("backup: a schedule without times") // ParseSchedule never makes one
}

// Prev returns the last scheduled instant at or before at.
func (s *Schedule) Prev(at time.Time) time.Time {
	t := s.Next(at.Add(-50 * time.Hour)) // every day has a time: one lies within the last two days
	for {
		n := s.Next(t)
		if n.After(at) {
			return t
		}
		t = n
	}
}

// Slot names one scheduled run of kind at instant at: the key that makes nodes which wake
// for the same run agree that only one of them makes it.
func Slot(kind string, at time.Time) string {
	return kind + "@" + at.UTC().Format(time.RFC3339)
}

// Claimer records backup runs; *store.DB implements it.
type Claimer interface {
	// ClaimBackupRun reports whether this node got the slot; false when another has it.
	ClaimBackupRun(ctx context.Context, slot string) (bool, error)
	// FinishBackupRun records a claimed run's outcome and the audit event action with it.
	FinishBackupRun(ctx context.Context, slot, action string, run *skjold.BackupRun) error
}

// RunLeaser is what a Claimer also does when its runs are leased to their node (*store.DB
// does): a running run is renewed while its pass lasts, a run whose node stopped renewing it
// is taken over by another node and alerted (backup.stalled), and a slot missed while every
// node was down can be found.
type RunLeaser interface {
	// RenewBackupRun extends the lease of a run this node claimed.
	RenewBackupRun(ctx context.Context, slot string) error
	// ReclaimStalledRun takes over one stalled run of kind and returns its slot; false if none.
	ReclaimStalledRun(ctx context.Context, kind string) (slot string, ok bool, err error)
	// HasBackupRun reports whether slot was run, and whether any run of its kind started before at.
	HasBackupRun(ctx context.Context, slot string, at time.Time) (has, before bool, err error)
}

// DefaultRenewEvery is how often a leased run is renewed: a third of the store's two-minute
// lease, so that two renewals may fail before another node takes the run over.
const DefaultRenewEvery = 40 * time.Second

// maxCatchUp bounds how late a missed slot is still caught up at start.
const maxCatchUp = 24 * time.Hour

// Job runs a pass at every time of its schedule, once across all nodes: each run first
// claims its slot in the database, and a node that finds the slot taken skips it. It
// follows the server's job pattern: a failed pass is recorded (and alerted through its
// audit event) and the job waits for the next time; it stops when its context ends.
type Job struct {
	Kind     string // skjold.RunBackup, skjold.RunOffsite or skjold.RunDrill
	Schedule *Schedule
	Claims   Claimer
	// Pass does the work and returns what to record (ManifestID, Note); its error fails the run.
	Pass func(ctx context.Context) (*skjold.BackupRun, error)
	Log  *slog.Logger
	Now  func() time.Time // defaults to time.Now
	// Wait returns a channel that fires after d; defaults to time.After. Tests shorten it.
	Wait func(d time.Duration) <-chan time.Time
	// RenewEvery is how often a run in progress renews its lease (when Claims is a
	// RunLeaser); 0 for DefaultRenewEvery.
	RenewEvery time.Duration
}

// maxSleep bounds one wait, so that a clock that jumps (a suspended VM, an NTP step) delays
// a run by at most this much.
const maxSleep = time.Minute

// Run waits for each scheduled time and runs the pass then, until ctx ends.
func (j *Job) Run(ctx context.Context) error {
	now, wait := j.Now, j.Wait
	if now == nil {
		now = time.Now
	}
	if wait == nil {
		wait = time.After
	}
	log := j.Log.With("component", "backup", "job", j.Kind)
	next := j.Schedule.Next(now())
	log.Info("scheduled", "schedule", j.Schedule.String(), "next", next)
	j.catchUp(ctx, now(), log)
	for {
		j.takeOverStalled(ctx, log)
		d := next.Sub(now())
		if d <= 0 {
			if err := j.RunSlot(ctx, next); err != nil && ctx.Err() == nil {
				log.Error("backup run failed", "slot", Slot(j.Kind, next), "err", err)
			}
			// A run that outlasted later times skips them rather than running them late.
			if n := now(); n.After(next) {
				next = n
			}
			next = j.Schedule.Next(next)
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wait(min(d, maxSleep)):
		}
	}
}

// RunSlot runs the pass for the scheduled instant at, unless another node (or an earlier
// pass) has claimed it, and records the outcome. It returns the pass's error.
func (j *Job) RunSlot(ctx context.Context, at time.Time) error {
	err := j.runClaimed(ctx, Slot(j.Kind, at))
	if errors.Is(err, errTaken) {
		j.Log.Info("backup run taken by another node", "component", "backup", "slot", Slot(j.Kind, at))
		return nil
	}
	return err
}

// catchUp runs, once across all nodes, the latest slot before now when no node ran it (the
// whole cluster was down then) and it is less than a day old, on a database that ran this
// kind of job before: a new installation starts with its next slot.
func (j *Job) catchUp(ctx context.Context, now time.Time, log *slog.Logger) {
	l, ok := j.Claims.(RunLeaser)
	if !ok || j.Schedule == nil {
		return
	}
	prev := j.Schedule.Prev(now)
	if now.Sub(prev) > maxCatchUp {
		return
	}
	has, before, err := l.HasBackupRun(ctx, Slot(j.Kind, prev), prev)
	if err != nil {
		log.Error("looking for a missed run failed", "err", err)
		return
	}
	if has || !before {
		return
	}
	log.Warn("catching up a run missed while no node was running", "slot", Slot(j.Kind, prev))
	if err := j.RunSlot(ctx, prev); err != nil && ctx.Err() == nil {
		log.Error("backup run failed", "slot", Slot(j.Kind, prev), "err", err)
	}
}

// takeOverStalled runs again every run of this kind whose node stopped renewing its claim
// (it died mid-run): the store records backup.stalled, which is alerted, and this node
// repeats the pass under the same slot.
func (j *Job) takeOverStalled(ctx context.Context, log *slog.Logger) {
	l, ok := j.Claims.(RunLeaser)
	if !ok {
		return
	}
	kinds := []string{j.Kind}
	if j.Kind == skjold.RunBackup {
		kinds = append(kinds, skjold.RunManual) // an operator's backup, made again as a scheduled one is
	}
	for _, kind := range kinds {
		for ctx.Err() == nil {
			slot, ok, err := l.ReclaimStalledRun(ctx, kind)
			if err != nil {
				log.Error("looking for stalled runs failed", "err", err)
				return
			}
			if !ok {
				break
			}
			log.Warn("a run whose node stopped is run again here", "slot", slot)
			if err := j.runPass(ctx, slot); err != nil && ctx.Err() == nil {
				log.Error("backup run failed", "slot", slot, "err", err)
			}
		}
	}
}

// errTaken reports a slot that another node (or an earlier pass) claimed first.
var errTaken = errors.New("the backup run was claimed by another node")

// runClaimed claims slot, runs the pass and records its outcome.
func (j *Job) runClaimed(ctx context.Context, slot string) error {
	ok, err := j.Claims.ClaimBackupRun(ctx, slot)
	switch {
	case err != nil:
		return err
	case !ok:
		return errTaken
	}
	return j.runPass(ctx, slot)
}

// runPass runs the pass of a slot this node holds, renewing its lease meanwhile, and
// records the outcome.
func (j *Job) runPass(ctx context.Context, slot string) error {
	if l, ok := j.Claims.(RunLeaser); ok {
		every := j.RenewEvery
		if every <= 0 {
			every = DefaultRenewEvery
		}
		rctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-rctx.Done():
					return
				case <-t.C:
					if err := l.RenewBackupRun(rctx, slot); err != nil && rctx.Err() == nil {
						j.Log.Error("renewing the claim of a backup run failed", "component", "backup", "slot", slot, "err", err)
					}
				}
			}
		}()
	}
	run, err := j.Pass(ctx)
	if run == nil {
		run = &skjold.BackupRun{}
	}
	run.Status = skjold.RunOK
	if err != nil {
		run.Status, run.Error = skjold.RunFailed, err.Error()
	}
	// Record even when ctx has ended (a shutdown mid-run): the evidence must not be lost.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if ferr := j.Claims.FinishBackupRun(rctx, slot, action(j.Kind, err == nil), run); ferr != nil {
		return fmt.Errorf("record %s: %w", slot, ferr)
	}
	return err
}

// action is the audit event a finished run of kind records; failures raise alerts.
func action(kind string, ok bool) string {
	switch {
	case kind == skjold.RunDrill && ok:
		return "drill.completed"
	case kind == skjold.RunDrill:
		return "drill.failed"
	case kind == skjold.RunOffsite && !ok:
		return "backup.copy_failed"
	case ok:
		return "backup.completed"
	}
	return "backup.failed"
}
