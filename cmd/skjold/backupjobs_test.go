package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

func TestBackupConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "skjold.toml")
	os.WriteFile(file, []byte("backup_times = \"13:00\"\nbackup_zone = \"Europe/Oslo\"\nbackup_keep = \"9\"\n"+
		"backup_s3_endpoint = \"s3.example.test\"\nbackup_s3_bucket = \"b\"\nbackup_s3_access_key = \"AK\"\nbackup_s3_secret_key = \"s3-very-secret\"\n"), 0o600)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"defaults", nil, nil, []string{`backup_times = "14:00,19:00"`, `backup_zone = "Local"`, `backup_keep = "7"`,
			`offsite_time = "02:00"`, `drill_time = "04:00"`, `backup_drill_identity_file = ""`}},
		{"file", nil, []string{"--config", file}, []string{`backup_times = "13:00"`, `backup_zone = "Europe/Oslo"`, `backup_keep = "9"`,
			`backup_s3_bucket = "b"`, `backup_s3_secret_key = "xxxxx"`}},
		{"env over file", map[string]string{"SKJOLD_BACKUP_TIMES": "12:00,18:00", "SKJOLD_DRILL_TIME": "05:30"}, []string{"--config", file},
			[]string{`backup_times = "12:00,18:00"`, `drill_time = "05:30"`, `backup_keep = "9"`}},
		{"flag over env", map[string]string{"SKJOLD_OFFSITE_TIME": "03:00"}, []string{"--offsite-time", "01:15", "--backup-zone", "UTC"},
			[]string{`offsite_time = "01:15"`, `backup_zone = "UTC"`}},
		{"sftp", nil, []string{"--backup-sftp-addr", "backup.example.test:22", "--backup-sftp-user", "skjold", "--backup-sftp-key-file", "k",
			"--backup-sftp-known-hosts", "kh", "--backup-sftp-dir", "/srv/backups"}, []string{`backup_sftp_addr = "backup.example.test:22"`,
			`backup_sftp_dir = "/srv/backups"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCLI(t, tt.env, append([]string{"serve", "--print-config"}, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("printed configuration lacks %s:\n%s", w, out)
				}
			}
			if strings.Contains(out, "s3-very-secret") {
				t.Errorf("the printed configuration shows the S3 secret key:\n%s", out)
			}
		})
	}
}

func TestBackupConfigRefused(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"bad time", []string{"--backup-times", "14:00,25:00"}, "backup_times"},
		{"empty times", []string{"--backup-times", " "}, "backup_times"},
		{"bad zone", []string{"--backup-zone", "Europe/Atlantis"}, "not a known zone"},
		{"bad off-site time", []string{"--offsite-time", "2am"}, "offsite_time"},
		{"bad drill time", []string{"--drill-time", "4"}, "drill_time"},
		{"bad keep", []string{"--backup-keep", "0"}, "backup_keep"},
		{"keep not a number", []string{"--backup-keep", "a week"}, "backup_keep"},
		{"half sftp", []string{"--backup-sftp-addr", "h:22"}, "go together"},
		{"half s3", []string{"--backup-s3-endpoint", "s3.example.test", "--backup-s3-bucket", "b"}, "go together"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runCLI(t, nil, append([]string{"serve", "--print-config"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestBuildTargets(t *testing.T) {
	dir := t.TempDir()
	cfg := defaultConfig()
	cfg.BackupDirs = filepath.Join(dir, "a") + ", " + filepath.Join(dir, "b")
	cfg.BackupS3Endpoint, cfg.BackupS3Bucket, cfg.BackupS3Prefix = "s3.example.test", "backups", "skjold"
	cfg.BackupS3AccessKey, cfg.BackupS3SecretKey = "AK", "s3-very-secret"
	local, offsite, err := buildTargets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(local) != 2 || local[0].Name() != "local:"+filepath.Join(dir, "a") || len(offsite) != 1 ||
		!strings.HasPrefix(offsite[0].Name(), "s3:") || strings.Contains(offsite[0].Name(), "secret") {
		t.Fatalf("targets %v / %v", names(local), names(offsite))
	}
	cfg.BackupSFTPAddr, cfg.BackupSFTPUser, cfg.BackupSFTPDir = "127.0.0.1:22", "skjold", "/srv"
	cfg.BackupSFTPKeyFile, cfg.BackupSFTPKnownHosts = filepath.Join(dir, "missing-key"), filepath.Join(dir, "missing-known-hosts")
	if _, _, err := buildTargets(cfg); err == nil || !strings.Contains(err.Error(), "backup_sftp") {
		t.Fatalf("buildTargets with a missing SFTP key file: %v", err)
	}
}

func names(ts []skjold.Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name())
	}
	return out
}

func TestBackupService(t *testing.T) {
	dir := t.TempDir()
	ring, err := keys.CreateKeyring(filepath.Join(dir, "master.key"))
	must(t, err)
	ks := keys.NewService(ring)
	db, err := store.Open(context.Background(), filepath.Join(dir, "skjold.db"), store.Options{Keys: ks, Logger: slog.New(slog.DiscardHandler)})
	must(t, err)
	t.Cleanup(func() { db.Close() })
	quiet := slog.New(slog.DiscardHandler)

	cfg := defaultConfig()
	svc, jobs, err := backupService(cfg, db, ks, nil, quiet)
	if err != nil || svc != nil || len(jobs) != 0 {
		t.Fatalf("without configuration: %v, %v jobs, %v", svc, len(jobs), err)
	}
	id, err := age.GenerateX25519Identity()
	must(t, err)
	idFile := filepath.Join(dir, "drill-identity.txt")
	must(t, os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600))
	cfg.BackupRecipients, cfg.BackupDirs, cfg.BackupDrillIdentityFile = id.Recipient().String(), filepath.Join(dir, "backups"), idFile
	svc, jobs, err = backupService(cfg, db, ks, nil, quiet)
	if err != nil || svc == nil || len(jobs) != 2 || jobs[0].Kind != skjold.RunBackup || jobs[1].Kind != skjold.RunDrill {
		t.Fatalf("with local backups: %v, %d jobs, %v", svc, len(jobs), err)
	}
	// The jobs' passes work end to end: a backup, then a full drill with the drill identity.
	run, err := jobs[0].Pass(context.Background())
	if err != nil || run.ManifestID == "" {
		t.Fatalf("backup pass: %+v, %v", run, err)
	}
	run, err = jobs[1].Pass(context.Background())
	if err != nil || !strings.Contains(run.Note, "sample decryption") {
		t.Fatalf("drill pass: %+v, %v", run, err)
	}
	cfg.BackupDrillIdentityFile = filepath.Join(dir, "nope.txt")
	if _, _, err := backupService(cfg, db, ks, nil, quiet); err == nil || !strings.Contains(err.Error(), "backup_drill_identity_file") {
		t.Fatalf("a missing drill identity: %v", err)
	}
}
