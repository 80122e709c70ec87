package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"filippo.io/age"
	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/backup"
	"github.com/skjold-project/skjold/s3"
	"github.com/skjold-project/skjold/sftp"
	"github.com/skjold-project/skjold/store"
)

// Retries of a target that does not answer [E2]: four tries, 5 s, 10 s and 20 s apart (plus
// jitter), so that a short network outage does not fail a backup.
const (
	targetAttempts = 4
	targetBackoff  = 5 * time.Second
)

// validateBackups checks the schedule, rotation and off-site settings.
func (c *Config) validateBackups() error {
	if _, err := c.backupSchedules(); err != nil {
		return err
	}
	if _, err := c.backupKeep(); err != nil {
		return err
	}
	sftpSet := []string{c.BackupSFTPAddr, c.BackupSFTPUser, c.BackupSFTPKeyFile, c.BackupSFTPKnownHosts, c.BackupSFTPDir}
	if n := countSet(sftpSet...); n != 0 && n != len(sftpSet) {
		return errors.New("backup_sftp_addr, backup_sftp_user, backup_sftp_key_file, backup_sftp_known_hosts and backup_sftp_dir go together: set all or none")
	}
	s3Set := []string{c.BackupS3Endpoint, c.BackupS3Bucket, c.BackupS3AccessKey, c.BackupS3SecretKey}
	if n := countSet(s3Set...); n != 0 && n != len(s3Set) {
		return errors.New("backup_s3_endpoint, backup_s3_bucket, backup_s3_access_key and backup_s3_secret_key go together: set all or none")
	}
	return nil
}

func countSet(vs ...string) int {
	n := 0
	for _, v := range vs {
		if v != "" {
			n++
		}
	}
	return n
}

// schedules are the three backup schedules of the configuration.
type schedules struct{ backup, offsite, drill *backup.Schedule }

func (c *Config) backupSchedules() (schedules, error) {
	var s schedules
	var err error
	zone := c.BackupZone
	if s.backup, err = backup.ParseSchedule(c.BackupTimes, zone); err != nil {
		return s, fmt.Errorf("backup_times/backup_zone: %w", err)
	}
	if s.offsite, err = backup.ParseSchedule(c.OffsiteTime, zone); err != nil {
		return s, fmt.Errorf("offsite_time: %w", err)
	}
	if s.drill, err = backup.ParseSchedule(c.DrillTime, zone); err != nil {
		return s, fmt.Errorf("drill_time: %w", err)
	}
	return s, nil
}

func (c *Config) backupKeep() (int, error) {
	n, err := strconv.Atoi(c.BackupKeep)
	if err != nil || n < 1 || n > 3660 {
		return 0, fmt.Errorf("backup_keep %q: use a number of days, 1 or more (default 7)", c.BackupKeep)
	}
	return n, nil
}

// buildTargets opens the configured targets: the local directories of backup_dirs, and the
// off-site SFTP server and S3 bucket when configured. Each retries with backoff.
func buildTargets(cfg Config) (local, offsite []skjold.Target, err error) {
	for _, dir := range splitList(cfg.BackupDirs) {
		t, err := backup.NewDir(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("backup_dirs: %w", err)
		}
		local = append(local, backup.Retry(t, targetAttempts, targetBackoff))
	}
	if cfg.BackupSFTPAddr != "" {
		t, err := sftp.New(sftp.Config{Addr: cfg.BackupSFTPAddr, User: cfg.BackupSFTPUser, KeyFile: cfg.BackupSFTPKeyFile,
			KnownHostsFile: cfg.BackupSFTPKnownHosts, Dir: cfg.BackupSFTPDir})
		if err != nil {
			return nil, nil, fmt.Errorf("backup_sftp: %w", err)
		}
		offsite = append(offsite, backup.Retry(t, targetAttempts, targetBackoff))
	}
	if cfg.BackupS3Endpoint != "" {
		t, err := s3.New(s3.Config{Endpoint: cfg.BackupS3Endpoint, Bucket: cfg.BackupS3Bucket, Prefix: cfg.BackupS3Prefix,
			AccessKey: cfg.BackupS3AccessKey, SecretKey: cfg.BackupS3SecretKey, Region: cfg.BackupS3Region})
		if err != nil {
			return nil, nil, fmt.Errorf("backup_s3: %w", err)
		}
		offsite = append(offsite, backup.Retry(t, targetAttempts, targetBackoff))
	}
	return local, offsite, nil
}

// backupService builds the server's backup service and its three scheduled jobs (backup,
// off-site copy, drill). Without recipients or targets it returns nil and no jobs: the
// server runs, the backup routes answer 503, and the log says why.
func backupService(cfg Config, db *store.DB, keys skjold.KeyService, observer backup.Observer, log *slog.Logger) (*backup.Service, []*backup.Job, error) {
	recipients, err := cfg.backupRecipients()
	if err != nil {
		return nil, nil, err
	}
	svc, local, offsite, err := newBackupService(cfg, db, recipients, keys, observer, log)
	if err != nil {
		return nil, nil, err
	}
	if len(recipients) == 0 || len(local)+len(offsite) == 0 {
		log.Warn("backups are not configured: set backup_recipients and backup_dirs (or an SFTP or S3 target)", "component", "backup")
		return nil, nil, nil
	}
	if db.Engine() == store.Postgres && len(offsite) == 0 {
		// Several nodes may serve this database: each lists only the directories it mounts.
		log.Info("backups go to local directories only: with several nodes, mount the same backup_dirs on each, or add an SFTP or S3 target, so that every node lists the same backups",
			"component", "backup")
	}
	sch, err := cfg.backupSchedules()
	if err != nil {
		return nil, nil, err
	}
	jobs := []*backup.Job{
		{Kind: skjold.RunBackup, Schedule: sch.backup, Claims: db, Pass: svc.BackupPass, Log: log},
		{Kind: skjold.RunDrill, Schedule: sch.drill, Claims: db, Pass: svc.DrillPass, Log: log},
	}
	if len(local) > 0 && len(offsite) > 0 { // without local targets the backups go off-site directly
		jobs = append(jobs, &backup.Job{Kind: skjold.RunOffsite, Schedule: sch.offsite, Claims: db, Pass: svc.OffsitePass, Log: log})
	}
	return svc, jobs, nil
}

// newBackupService builds the backup service on the configured targets, encrypting to
// recipients: the server's (see backupService) and "skjold backup run"'s, which makes its
// backup through the same Run as POST /api/v1/backups: recorded, rotated, alerted alike.
func newBackupService(cfg Config, db *store.DB, recipients []age.Recipient, keys skjold.KeyService, observer backup.Observer,
	log *slog.Logger) (svc *backup.Service, local, offsite []skjold.Target, err error) {
	if local, offsite, err = buildTargets(cfg); err != nil {
		return nil, nil, nil, err
	}
	var ids []age.Identity
	if cfg.BackupDrillIdentityFile != "" {
		if ids, err = loadIdentities(cfg.BackupDrillIdentityFile, ""); err != nil {
			return nil, nil, nil, fmt.Errorf("backup_drill_identity_file: %w", err)
		}
	}
	sch, err := cfg.backupSchedules()
	if err != nil {
		return nil, nil, nil, err
	}
	keep, err := cfg.backupKeep()
	if err != nil {
		return nil, nil, nil, err
	}
	svc = backup.NewService(db, db, backup.ServiceOptions{Recipients: recipients, Local: local, Offsite: offsite,
		Identities: ids, Keys: keys, Keep: keep, Zone: sch.backup.Location(), Observer: observer, Log: log,
		Checkpoints: cfg.checkpointFile()})
	return svc, local, offsite, nil
}
