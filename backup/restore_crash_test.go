package backup

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"filippo.io/age"
	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// crashEnv carries a crashJob to the child process TestRestoreCutOff starts.
const crashEnv = "SKJOLD_TEST_RESTORE_CRASH"

// crashJob is a restore the child runs and the step at which it kills itself.
type crashJob struct {
	From, DSN, Identity, KeyFile, Step string
	Term                               bool // SIGTERM (a graceful stop) rather than SIGKILL
}

// TestRestoreCrashChild is the child process of TestRestoreCutOff: it runs the real Restore
// and sends itself SIGKILL at the job's step, as a kill -9 or a power loss would stop it.
func TestRestoreCrashChild(t *testing.T) {
	raw := os.Getenv(crashEnv)
	if raw == "" {
		t.Skip("run by TestRestoreCutOff in a child process")
	}
	var job crashJob
	must(t, json.Unmarshal([]byte(raw), &job))
	ctx, stop := signal.NotifyContext(t.Context(), os.Interrupt, syscall.SIGTERM) // as run does
	defer stop()
	crashPoint = func(step string) {
		switch {
		case step != job.Step:
		case job.Term:
			syscall.Kill(os.Getpid(), syscall.SIGTERM)
			<-ctx.Done()
		default:
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
	from, err := NewDir(job.From)
	must(t, err)
	id, err := age.ParseX25519Identity(job.Identity)
	must(t, err)
	ring, err := keys.OpenKeyring(job.KeyFile)
	must(t, err)
	_, err = Restore(ctx, RestoreOptions{From: from, Identities: []age.Identity{id}, DSN: job.DSN,
		Keys: keys.NewService(ring), Log: quiet})
	if job.Term && err != nil && ctx.Err() != nil {
		os.Exit(3) // stopped by the signal, as "skjold restore" exits
	}
	t.Fatalf("the restore ran past step %q: %v", job.Step, err)
}

// TestRestoreCutOff kills a restore (kill -9, in a child process) once the backup is loaded
// and once the journal is replayed, but before the database is made servable: neither may
// leave a database that a server would serve with the subject erased after the backup in it
// [D4]. SQLite leaves no database at its destination (a later restore there succeeds);
// PostgreSQL leaves one that store.Open, and so "skjold serve", refuses.
func TestRestoreCutOff(t *testing.T) {
	for _, engine := range engines {
		for _, step := range []string{"loaded", "finished"} {
			t.Run(engine+"/"+step, func(t *testing.T) {
				f := newFixture(t, engine)
				f.seed(3)
				f.backup()
				gone := f.subjects[1]
				_, err := f.db.EraseSubject(f.ctx, gone.ID, skjold.ErasedOnRequest)
				must(t, err)
				must(t, f.backuper().SyncJournal(t.Context()))

				dsn := f.newDSN()
				killedAt(t, crashJob{From: strings.TrimPrefix(f.targets[0].Name(), "local:"), DSN: dsn,
					Identity: f.id.String(), KeyFile: f.keyFile, Step: step})
				if engine == store.Postgres {
					checkPostgresNotServed(t, f, dsn, gone.ID)
					return
				}
				checkSQLiteNotServed(t, f, dsn, gone.ID)
			})
		}
	}
}

// killedAt runs job in a child process and checks that it died of SIGKILL.
func killedAt(t *testing.T, job crashJob) {
	t.Helper()
	raw, err := json.Marshal(job)
	must(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^TestRestoreCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+string(raw))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the child restore was not killed: %v\n%s", err, out)
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child restore ended with %v, not SIGKILL at %q:\n%s", err, job.Step, out)
	}
}

// checkSQLiteNotServed: no database at dsn, or one without the erased subject; then a
// restore into the same place succeeds and removes what the cut-off one left.
func checkSQLiteNotServed(t *testing.T, f *fixture, dsn, goneID string) {
	t.Helper()
	if _, err := os.Stat(dsn); err == nil {
		db := openDB(t, dsn, f.keys)
		if _, err := db.FindSubjectByID(f.ctx, goneID); skjold.ErrorCode(err) != skjold.ENOTFOUND {
			t.Fatalf("the cut-off restore left a database at its destination that holds the erased subject (%v)", err)
		}
		return
	}
	rep, err := Restore(t.Context(), f.restoreOptions(f.targets[0], dsn))
	must(t, err)
	if rep.Replayed != 1 {
		t.Errorf("the restore after the cut-off one replayed %d entries, want 1", rep.Replayed)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(dsn), restorePrefix+"*"))
	if len(left) > 0 {
		t.Errorf("the cut-off restore's files are still there: %v", left)
	}
	db := openDB(t, dsn, f.keys)
	if _, err := db.FindSubjectByID(f.ctx, goneID); skjold.ErrorCode(err) != skjold.ENOTFOUND {
		t.Errorf("the erased subject is back after the restore: %v", err)
	}
}

// checkPostgresNotServed: the database a server would open is refused as restore-pending,
// or (were it accepted) does not hold the erased subject.
func checkPostgresNotServed(t *testing.T, f *fixture, dsn, goneID string) {
	t.Helper()
	db, err := store.Open(t.Context(), dsn, store.Options{Keys: f.keys, Logger: quiet})
	if err == nil {
		defer db.Close()
		if _, err := db.FindSubjectByID(f.ctx, goneID); skjold.ErrorCode(err) != skjold.ENOTFOUND {
			t.Fatalf("the cut-off restore left a database that opens and holds the erased subject (%v)", err)
		}
		return
	}
	if !errors.Is(err, store.ErrRestorePending) || !strings.Contains(err.Error(), "skjold restore") {
		t.Errorf("opening the cut-off restore's database: %v, want store.ErrRestorePending", err)
	}
}

// TestRestoreWrongMasterKey: a restore under a master key that opens no tenant key is
// refused, and leaves nothing a server would serve.
func TestRestoreWrongMasterKey(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			f := newFixture(t, engine)
			f.seed(2)
			f.backup()
			ring, err := keys.CreateKeyring(filepath.Join(t.TempDir(), "other.key"))
			must(t, err)
			o := f.restoreOptions(f.targets[0], f.newDSN())
			o.Keys = keys.NewService(ring)
			_, err = Restore(t.Context(), o)
			// Another installation's key opens neither the audit key nor a tenant key: refused
			// at the first of those checks, naming the master key.
			if err == nil || !strings.Contains(err.Error(), "master key") {
				t.Fatalf("restore under the wrong master key: %v, want a refusal", err)
			}
			if engine == store.SQLite {
				if _, err := os.Stat(o.DSN); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the refused restore left %s (%v)", o.DSN, err)
				}
				return
			}
			// Refused before loading (the manifest names the key), or loaded and marked.
			db, err := store.Open(t.Context(), o.DSN, store.Options{Keys: f.keys, Logger: quiet})
			if err == nil {
				defer db.Close()
				if tns, err := db.FindTenants(f.op, skjold.Page{Limit: 10}); err != nil || len(tns) != 0 {
					t.Errorf("the refused restore's database opens and holds %d tenants (%v)", len(tns), err)
				}
			} else if !errors.Is(err, store.ErrRestorePending) {
				t.Errorf("the refused restore's database: %v", err)
			}
		})
	}
}

// TestRestoreKilledLeavesNothingDecrypted kills a restore (kill -9, in a child process)
// before the decrypted file exists, while it grows, once it is complete but before the
// journal is replayed, and after the replay but before it is placed [D4]. After each kill,
// and the cleanup "skjold serve" runs on start (CleanInterrupted), no file in the target
// directory holds the subject erased after the backup; a rerun of the restore completes,
// replays the erasure, and says in the audit chain that it cleaned up. On PostgreSQL the
// rerun completes into the database the killed restore left marked restore-pending.
func TestRestoreKilledLeavesNothingDecrypted(t *testing.T) {
	for _, engine := range engines {
		for _, step := range []string{"fetched", "writing", "loaded", "finished"} {
			if engine == store.Postgres && step == "writing" {
				continue // the dump is read whole before the load's one transaction; "loaded" covers it
			}
			t.Run(engine+"/"+step, func(t *testing.T) {
				f := newFixture(t, engine)
				f.seed(40) // a file large enough to be read in several pieces
				f.backup()
				gone := f.subjects[1]
				_, err := f.db.EraseSubject(f.ctx, gone.ID, skjold.ErasedOnRequest)
				must(t, err)
				must(t, f.backuper().SyncJournal(t.Context()))

				dsn := f.newDSN()
				killedAt(t, crashJob{From: strings.TrimPrefix(f.targets[0].Name(), "local:"), DSN: dsn,
					Identity: f.id.String(), KeyFile: f.keyFile, Step: step})
				// After "finished" the rerun itself finds the leftovers (and audits them);
				// otherwise serve's cleanup on start does.
				preClean := engine == store.SQLite && step != "finished"
				if preClean {
					dir := filepath.Dir(dsn)
					if _, err := CleanInterrupted(dir); err != nil {
						t.Fatal(err)
					}
					noFileHolds(t, dir, gone.ID)
				}
				rep, err := Restore(t.Context(), f.restoreOptions(f.targets[0], dsn))
				if err != nil {
					t.Fatalf("a rerun after a restore killed at %q: %v", step, err)
				}
				if rep.Replayed != 1 {
					t.Errorf("the rerun replayed %d erasures, want 1", rep.Replayed)
				}
				db := openDB(t, dsn, f.keys)
				if _, err := db.FindSubjectByID(f.ctx, gone.ID); skjold.ErrorCode(err) != skjold.ENOTFOUND {
					t.Errorf("the erased subject is back after the rerun: %v", err)
				}
				if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dsn), restorePrefix+"*")); engine == store.SQLite && len(left) > 0 {
					t.Errorf("the rerun left %v", left)
				}
				if step == "finished" || (engine == store.Postgres && step == "loaded") {
					wantAudited(t, db, f, "restore.interrupted_cleaned")
				}
			})
		}
	}
}

// TestRestoreStoppedBySignal: a restore stopped by SIGTERM (as "skjold restore" is, through
// run's signal context) while the decrypted file grows, or once it is loaded, removes it.
func TestRestoreStoppedBySignal(t *testing.T) {
	for _, step := range []string{"writing", "loaded", "finished"} {
		t.Run(step, func(t *testing.T) {
			f := newFixture(t, store.SQLite)
			f.seed(40)
			f.backup()
			dsn := f.newDSN()
			must(t, os.MkdirAll(filepath.Dir(dsn), 0o700))
			raw, err := json.Marshal(crashJob{From: strings.TrimPrefix(f.targets[0].Name(), "local:"), DSN: dsn,
				Identity: f.id.String(), KeyFile: f.keyFile, Step: step, Term: true})
			must(t, err)
			cmd := exec.Command(os.Args[0], "-test.run=^TestRestoreCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashEnv+"="+string(raw))
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 3 {
				t.Fatalf("the child restore did not stop on SIGTERM at %q: %v\n%s", step, err, out)
			}
			entries, err := os.ReadDir(filepath.Dir(dsn))
			must(t, err)
			if len(entries) != 0 {
				t.Errorf("a restore stopped by SIGTERM at %q left %v", step, entries)
			}
		})
	}
}

// noFileHolds fails when a file in dir holds the text id.
func noFileHolds(t *testing.T, dir, id string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	must(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		must(t, err)
		if strings.Contains(string(b), id) {
			t.Errorf("%s still holds the erased subject %s", e.Name(), id)
		}
	}
}

// wantAudited fails unless db's audit chain holds an event of action.
func wantAudited(t *testing.T, db *store.DB, f *fixture, action string) {
	t.Helper()
	evs, err := db.FindAuditEvents(f.op, skjold.AuditFilter{Limit: skjold.MaxPageLimit})
	must(t, err)
	for _, e := range evs {
		if e.Action == action {
			return
		}
	}
	t.Errorf("no %s event in the restored audit chain", action)
}
