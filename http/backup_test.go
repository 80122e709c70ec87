package http

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/backup"
	"github.com/skjold-project/skjold/store"
)

// newBackupService returns a real backup service on db with two local directory targets,
// encrypting to a fresh age identity that the service also holds (for deep verification).
func newBackupService(t *testing.T, db *store.DB, dir string) *backup.Service {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	var targets []skjold.Target
	for _, name := range []string{"backups-a", "backups-b"} {
		d, err := backup.NewDir(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, d)
	}
	return backup.NewService(db, db, backup.ServiceOptions{Recipients: []age.Recipient{id.Recipient()}, Local: targets,
		Identities: []age.Identity{id}, Log: slog.New(slog.DiscardHandler)})
}

// backupIDs makes one backup the first time it is asked, for the routes about a backup.
var backupIDs sync.Map // *env → backup id

func (e *env) backupID(t *testing.T) string {
	t.Helper()
	if id, ok := backupIDs.Load(e); ok {
		return id.(string)
	}
	var m skjold.Manifest
	e.do(t, e.operator, "POST", "/api/v1/backups", nil).want(t, 201).decode(t, &m)
	backupIDs.Store(e, m.ID)
	return m.ID
}

func TestBackupAPI(t *testing.T) {
	e := newEnv(t)
	e.createSubject(t, e.a.token, map[string]string{"name": "Anna"})
	var m skjold.Manifest
	e.do(t, e.operator, "POST", "/api/v1/backups", nil).want(t, 201).decode(t, &m)
	if !backup.ValidID(m.ID) || m.Rows["subjects"] != 1 || len(m.SHA256) != 64 {
		t.Fatalf("manifest %+v", m)
	}
	var list struct{ Items []skjold.TargetBackups }
	e.do(t, e.operator, "GET", "/api/v1/backups", nil).want(t, 200).decode(t, &list)
	if len(list.Items) != 2 || len(list.Items[0].Backups) != 1 || list.Items[1].Backups[0].ID != m.ID {
		t.Fatalf("list %+v", list)
	}
	var v struct {
		OK     bool
		Checks []skjold.BackupCheck
	}
	e.do(t, e.operator, "POST", "/api/v1/backups/"+m.ID+"/verify", nil).want(t, 200).decode(t, &v)
	if !v.OK || len(v.Checks) != 2 {
		t.Fatalf("verify %+v", v)
	}
	e.do(t, e.operator, "POST", "/api/v1/backups/nope/verify", nil).wantError(t, 404, skjold.ENOTFOUND)
	e.do(t, e.operator, "POST", "/api/v1/backups/20200101T000000Z-00000000/verify", nil).wantError(t, 404, skjold.ENOTFOUND)
	var runs struct{ Items []skjold.BackupRun }
	e.do(t, e.operator, "GET", "/api/v1/backups/runs?limit=5", nil).want(t, 200).decode(t, &runs)
	if len(runs.Items) != 1 || runs.Items[0].ManifestID != m.ID || runs.Items[0].Status != skjold.RunOK {
		t.Fatalf("runs %+v", runs)
	}
	e.do(t, e.operator, "GET", "/api/v1/backups/runs?limit=0", nil).wantError(t, 400, skjold.EINVALID)
	e.do(t, e.a.token, "GET", "/api/v1/backups", nil).wantError(t, 403, skjold.EFORBIDDEN)

	rec := e.do(t, e.operator, "GET", "/metrics", nil).want(t, 200)
	for _, want := range []string{`skjold_backup_failures_total{kind="copy"} 0`, "skjold_drill_last_success_timestamp_seconds 0"} {
		if !strings.Contains(string(rec.body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestBackupMetrics(t *testing.T) {
	m := NewMetrics("test", func(context.Context) (int64, error) { return 0, nil })
	var _ backup.Observer = m // the backup service reports to the metrics
	at := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
	m.BackupSucceeded("local:/mnt/a", 4096, at)
	m.BackupFailed("copy")
	m.DrillSucceeded(1500e6, at)
	var _ backup.CauseObserver = m
	m.TargetFailed(backup.CauseFull)
	rec := httptest.NewRecorder()
	m.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := rec.Body.String()
	for _, want := range []string{
		`skjold_backup_last_success_timestamp_seconds{target="local:/mnt/a"} 1.7954424e+09`,
		"skjold_backup_size_bytes 4096", `skjold_backup_failures_total{kind="copy"} 1`,
		`skjold_backup_failures_total{kind="drill"} 0`, "skjold_drill_last_duration_seconds 1.5",
		"skjold_drill_last_success_timestamp_seconds 1.7954424e+09",
		`skjold_backup_target_failures_total{cause="full"} 1`, `skjold_backup_target_failures_total{cause="unreachable"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q:\n%s", want, out)
		}
	}
}
