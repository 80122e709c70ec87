package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/backup"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// backupRecipients parses backup_recipients: age X25519 public keys, comma-separated.
func (c *Config) backupRecipients() ([]age.Recipient, error) {
	var out []age.Recipient
	for _, s := range splitList(c.BackupRecipients) {
		r, err := age.ParseX25519Recipient(s)
		if err != nil {
			return nil, fmt.Errorf("backup_recipients: %q is not an age public key (age1…): make one with \"skjold backup keygen\"", s)
		}
		out = append(out, r)
	}
	return out, nil
}

// backupTargets opens every configured backup target: the local directories of backup_dirs
// and the off-site SFTP server and S3 bucket (see buildTargets).
func (c *Config) backupTargets() ([]skjold.Target, error) {
	local, offsite, err := buildTargets(*c)
	if err != nil {
		return nil, err
	}
	if out := append(local, offsite...); len(out) > 0 {
		return out, nil
	}
	return nil, errors.New("no backup target is configured: set backup_dirs (comma-separated directories), or an SFTP or S3 target")
}

// restoreSource opens the target a restore reads from: "sftp" or "s3" for the configured
// off-site target, a configured target's full name, or a directory ("local:DIR" or DIR),
// which must exist.
func restoreSource(cfg Config, from string) (skjold.Target, error) {
	if from == "sftp" || from == "s3" || strings.HasPrefix(from, "sftp:") || strings.HasPrefix(from, "s3:") {
		_, offsite, err := buildTargets(cfg)
		if err != nil {
			return nil, err
		}
		for _, t := range offsite {
			if name := t.Name(); name == from || strings.HasPrefix(name, from+":") {
				return t, nil
			}
		}
		return nil, fmt.Errorf("--from %s: no such target is configured (see backup_sftp_* and backup_s3_*)", from)
	}
	dir := strings.TrimPrefix(from, "local:")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("--from %s: not a backup directory", from)
	}
	return backup.NewDir(dir)
}

// splitList splits a comma-separated setting, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// readPassphrase reads a passphrase file: its first line, which must not be empty.
func readPassphrase(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("passphrase file: %w", err)
	}
	pass, _, _ := strings.Cut(string(b), "\n")
	if pass = strings.TrimRight(pass, "\r"); pass == "" {
		return "", errors.New("passphrase file: the first line is empty")
	}
	return pass, nil
}

// loadIdentities reads the age identities that decrypt backups: an identity file (as
// age-keygen or "skjold backup keygen" write it) and/or a passphrase file.
func loadIdentities(identityFile, passphraseFile string) ([]age.Identity, error) {
	var ids []age.Identity
	if identityFile != "" {
		f, err := os.Open(identityFile)
		if err != nil {
			return nil, fmt.Errorf("identity file: %w", err)
		}
		defer f.Close()
		if ids, err = age.ParseIdentities(f); err != nil {
			return nil, fmt.Errorf("identity file %s: %w", identityFile, err)
		}
	}
	if passphraseFile != "" {
		pass, err := readPassphrase(passphraseFile)
		if err != nil {
			return nil, err
		}
		id, err := age.NewScryptIdentity(pass)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, errors.New("give --identity FILE (or --passphrase-file FILE) to decrypt the backup")
	}
	return ids, nil
}

func runBackupRun(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "backup run", "Make an encrypted backup now: a consistent snapshot of the database, compressed,\n"+
		"encrypted to backup_recipients and copied to every configured target, each then rotated;\n"+
		"the run is recorded as POST /api/v1/backups records it. Safe while serving.")
	load := configFlags(fs, e.getenv)
	passFile := fs.String("passphrase-file", "", "encrypt to the passphrase in this file instead of backup_recipients")
	asJSON := jsonFlag(fs)
	if err := parseArgs(e, fs, args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	rs, err := runRecipients(cfg, *passFile)
	if err != nil {
		return err
	}
	if _, err := cfg.backupTargets(); err != nil {
		return err
	}
	log := newLogger(e.stderr, cfg.logLevel())
	db, ring, err := openStore(ctx, cfg, log.With("component", "store"), nil)
	if err != nil {
		return err
	}
	defer db.Close()
	svc, _, _, err := newBackupService(cfg, db, rs, keys.NewService(ring), nil, log)
	if err != nil {
		return err
	}
	p := newProgress(e, "backup", "bytes")
	m, err := svc.Run(backup.WithProgress(cliContext(ctx), p.update))
	if err != nil {
		return err
	}
	p.finish()
	if *asJSON {
		return printJSON(e.stdout, m)
	}
	fmt.Fprintf(e.stdout, "backup %s: %d bytes, sha256 %s, schema %d\n", m.ID, m.Size, m.SHA256, m.SchemaVersion)
	return nil
}

// runRecipients returns whom a backup is encrypted to: the passphrase alone when one is
// given (age allows no other recipient beside it), else backup_recipients.
func runRecipients(cfg Config, passFile string) ([]age.Recipient, error) {
	rs, err := cfg.backupRecipients()
	if err != nil {
		return nil, err
	}
	if passFile == "" {
		if len(rs) == 0 {
			return nil, errors.New("no backup recipient is configured: make an identity with " +
				"\"skjold backup keygen --out backup-identity.txt\", keep that file off the server, " +
				"and set backup_recipients to the age1… public key it prints")
		}
		return rs, nil
	}
	if len(rs) > 0 {
		return nil, errors.New("a passphrase must be a backup's only recipient: unset backup_recipients or drop --passphrase-file")
	}
	pass, err := readPassphrase(passFile)
	if err != nil {
		return nil, err
	}
	r, err := age.NewScryptRecipient(pass)
	if err != nil {
		return nil, err
	}
	return []age.Recipient{r}, nil
}

func runBackupList(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "backup list", "List the complete backups on every configured target, newest first.")
	load := configFlags(fs, e.getenv)
	asJSON := jsonFlag(fs)
	if err := parseArgs(e, fs, args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	targets, err := cfg.backupTargets()
	if err != nil {
		return err
	}
	var errs []error
	type targetList struct {
		Target  string             `json:"target"`
		Backups []*skjold.Manifest `json:"backups"`
		Error   string             `json:"error,omitempty"`
	}
	var lists []targetList
	for _, t := range targets {
		ms, err := backup.List(ctx, t)
		if err != nil {
			errs = append(errs, err)
			lists = append(lists, targetList{Target: t.Name(), Backups: []*skjold.Manifest{}, Error: err.Error()})
			continue
		}
		lists = append(lists, targetList{Target: t.Name(), Backups: append([]*skjold.Manifest{}, ms...)})
		if *asJSON {
			continue
		}
		fmt.Fprintf(e.stdout, "%s: %d backups\n", t.Name(), len(ms))
		for _, m := range ms {
			fmt.Fprintf(e.stdout, "  %s  %s  %-8s schema %d  %d bytes\n", m.ID, m.Time.Format(time.RFC3339), m.Engine, m.SchemaVersion, m.Size)
		}
	}
	if *asJSON {
		if err := printJSON(e.stdout, map[string]any{"targets": lists}); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

func runBackupVerify(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "backup verify ID", "Check backup ID on every target that holds it: its SHA-256 against its manifest,\n"+
		"and with --identity, that it decrypts and holds the manifest's rows.")
	load := configFlags(fs, e.getenv)
	identity := fs.String("identity", "", "age identity file, to decrypt and check the content")
	passFile := fs.String("passphrase-file", "", "passphrase file, for a backup made to a passphrase")
	asJSON := jsonFlag(fs)
	id, err := parseWithID(e, fs, args)
	if err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	var ids []age.Identity
	if *identity != "" || *passFile != "" {
		if ids, err = loadIdentities(*identity, *passFile); err != nil {
			return err
		}
	}
	targets, err := cfg.backupTargets()
	if err != nil {
		return err
	}
	type result struct {
		Target  string `json:"target"`
		OK      bool   `json:"ok"`
		Content bool   `json:"content_checked"`
		Error   string `json:"error,omitempty"`
	}
	var errs []error
	var results []result
	for _, t := range targets {
		if _, err := backup.Verify(ctx, t, id, ids); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.Name(), err))
			results = append(results, result{Target: t.Name(), Error: err.Error()})
			continue
		}
		results = append(results, result{Target: t.Name(), OK: true, Content: len(ids) > 0})
		what := "checksum ok"
		if len(ids) > 0 {
			what = "checksum ok, decrypts, rows match the manifest"
		}
		if !*asJSON {
			fmt.Fprintf(e.stdout, "%s: backup %s: %s\n", t.Name(), id, what)
		}
	}
	if *asJSON {
		if err := printJSON(e.stdout, map[string]any{"backup": id, "targets": results}); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

// parseWithID parses a command's flags around one positional argument, the backup id, which
// may come before or after them.
func parseWithID(e env, fs *flag.FlagSet, args []string) (string, error) {
	return parseWithArg(e, fs, args, "give one backup id, such as 20261123T140000Z-1a2b3c4d (see \"skjold backup list\")")
}

// parseWithArg parses a command's flags around one positional argument, which may come
// before or after them; without exactly one, it is a usage error saying want.
func parseWithArg(e env, fs *flag.FlagSet, args []string, want string) (string, error) {
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := parseArgs(e, fs, args); err != nil {
		return "", err
	}
	if id == "" && fs.NArg() > 0 {
		id = fs.Arg(0)
	}
	if id == "" || fs.NArg() > 1 || (fs.NArg() == 1 && fs.Arg(0) != id) {
		return "", usagef("%s", want)
	}
	return id, nil
}

func runBackupKeygen(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "backup keygen", "Make an age X25519 identity for backups, write it to --out (mode 0600, in\n"+
		"age-keygen's format) and print its public key: put that in backup_recipients, and keep\n"+
		"the identity file off the server, with whoever may restore.")
	out := fs.String("out", "", "file to write the identity to (must not exist)")
	asJSON := jsonFlag(fs)
	if err := parseArgs(e, fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef("give --out FILE for the identity")
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("identity file: %w", err)
	}
	_, err = fmt.Fprintf(f, "# created: %s\n# public key: %s\n%s\n", time.Now().Format(time.RFC3339), id.Recipient(), id)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(*out)
		return fmt.Errorf("identity file: %w", err)
	}
	if *asJSON {
		return printJSON(e.stdout, map[string]string{"recipient": id.Recipient().String(), "identity_file": *out})
	}
	fmt.Fprintln(e.stdout, id.Recipient().String())
	return nil
}

func runRestore(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "restore", "Restore a backup into a new data directory (SQLite) or an empty PostgreSQL database:\n"+
		"checks the checksum, decrypts, migrates, erases again what the erasure journal says was\n"+
		"erased after the backup, and verifies the audit chain. The master key file must be in\n"+
		"the new data directory (master.key) or given with --master-key-file.")
	load := configFlags(fs, e.getenv)
	from := fs.String("from", "", "the target to restore from: a backup directory (local:DIR or DIR), or sftp or s3 for the configured off-site target")
	id := fs.String("backup", "", "the backup id; empty for the newest")
	identity := fs.String("identity", "", "age identity file that decrypts the backup")
	passFile := fs.String("passphrase-file", "", "passphrase file, for a backup made to a passphrase")
	to := fs.String("to", "", "a new data directory, or the postgres:// URL of an empty database")
	asJSON := jsonFlag(fs)
	if err := parseArgs(e, fs, args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	o, err := restoreOptions(cfg, *from, *identity, *passFile, *to)
	if err != nil {
		return err
	}
	o.ID, o.Log = *id, newLogger(e.stderr, cfg.logLevel())
	p := newProgress(e, "restore", "bytes")
	rep, err := backup.Restore(backup.WithProgress(ctx, p.update), o)
	if err != nil {
		return err
	}
	p.finish()
	m := rep.Manifest
	if *asJSON {
		return printJSON(e.stdout, map[string]any{"backup": m, "into": redactDSN(o.DSN), "replayed": rep.Replayed,
			"audit_events": rep.ChainLength, "took_ms": rep.Took.Milliseconds()})
	}
	fmt.Fprintf(e.stdout, "restored backup %s (%s, schema %d, taken %s) into %s\n", m.ID, m.Engine, m.SchemaVersion,
		m.Time.Format(time.RFC3339), o.DSN)
	fmt.Fprintf(e.stdout, "erasures re-applied from the journal: %d\naudit chain verified: %d events\ntook %s\n",
		rep.Replayed, rep.ChainLength, rep.Took.Round(time.Millisecond))
	return nil
}

// restoreOptions resolves the restore's source, identities, destination and master key.
func restoreOptions(cfg Config, from, identity, passFile, to string) (backup.RestoreOptions, error) {
	var o backup.RestoreOptions
	if from == "" || to == "" {
		return o, errors.New("give --from (where the backups are) and --to (a new data directory or an empty postgres:// database)")
	}
	var err error
	if o.From, err = restoreSource(cfg, from); err != nil {
		return o, err
	}
	if o.Identities, err = loadIdentities(identity, passFile); err != nil {
		return o, err
	}
	keyFile := cfg.MasterKeyFile
	if strings.HasPrefix(to, "postgres://") || strings.HasPrefix(to, "postgresql://") {
		o.DSN = to
	} else {
		o.DSN = filepath.Join(to, "skjold.db")
		if keyFile == "" {
			keyFile = filepath.Join(to, "master.key")
		}
	}
	if keyFile == "" {
		return o, errors.New("give --master-key-file: the master key the backup's data is sealed under")
	}
	if _, err := os.Stat(keyFile); errors.Is(err, fs.ErrNotExist) {
		return o, fmt.Errorf("master key file %s does not exist: copy the master key there, or give --master-key-file", keyFile)
	}
	ring, err := keys.OpenKeyring(keyFile)
	if err != nil {
		return o, err
	}
	o.Keys = keys.NewService(ring)
	return o, nil
}

func runJournalReplay(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "journal replay", "Erase again every subject and tenant that an erasure journal copy (erasure-journal.jsonl\n"+
		"from a backup target) lists beyond the database's own journal: for a database restored by\n"+
		"hand (see docs/disaster-recovery.md). Run it before the server serves the database.")
	load := configFlags(fs, e.getenv)
	journal := fs.String("journal", "", "the erasure journal copy (erasure-journal.jsonl)")
	asJSON := jsonFlag(fs)
	if err := parseArgs(e, fs, args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if *journal == "" {
		return usagef("give --journal FILE: the erasure-journal.jsonl beside the backups")
	}
	f, err := os.Open(*journal)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	entries, err := store.ReadJournal(f)
	f.Close()
	if err != nil {
		return err
	}
	db, _, err := openStore(ctx, cfg, newLogger(e.stderr, cfg.logLevel()).With("component", "store"), nil)
	if err != nil {
		return err
	}
	defer db.Close()
	op := cliContext(ctx)
	// A database restored by hand replaces the chain the audit checkpoints were taken of [F3].
	if err := db.MarkRestored(op, "manual"); err != nil {
		return err
	}
	n, err := db.ReplayJournal(op, entries, 0, "manual")
	if err != nil {
		return err
	}
	chain, err := db.VerifyAuditChain(op)
	if err != nil {
		return fmt.Errorf("erasures re-applied: %d, but the audit chain does not verify: %w", n, err)
	}
	if *asJSON {
		return printJSON(e.stdout, map[string]int{"replayed": n, "audit_events": int(chain.Length)})
	}
	fmt.Fprintf(e.stdout, "erasures re-applied from the journal: %d\naudit chain verified: %d events\n", n, chain.Length)
	return nil
}
