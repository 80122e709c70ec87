package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// env is what run hands to every command.
type env struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
	// inspect, when set, receives a command's flag set instead of running the command (the
	// completion scripts and the README's command reference are made from them).
	inspect func(*flag.FlagSet)
}

// command is one subcommand: its name (one or two words), a one-line summary for the help,
// and what it does.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e env, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"serve", "run the HTTPS server (creates ./skjold-data on first start)", runServe},
		{"tenant create", "create a tenant and its first API token", runTenantCreate},
		{"tenant list", "list the tenants", runTenantList},
		{"token create", "create an API token for a tenant, or an operator token", runTokenCreate},
		{"token list", "list the API tokens (of one tenant, or every one)", runTokenList},
		{"token revoke", "revoke an API token", runTokenRevoke},
		{"user reset-two-factor", "break glass: remove a locked-out user's second factor (on the server's machine)", runUserResetTwoFactor},
		{"audit verify", "check the audit chain; exits non-zero at the first broken link", runAuditVerify},
		{"compliance check", "check every promise against live state; exits non-zero when one fails", runComplianceCheck},
		{"compliance documents", "write the TOMs and records of processing as PDF files (--out DIR)", runComplianceDocuments},
		{"maintenance schedule", "announce a maintenance window to every tenant's owner", runMaintenanceSchedule},
		{"keys rotate", "move every tenant key under a new master key, retiring the old one (safe while serving)", runKeysRotate},
		{"keys list", "show each master key, its state, and which kept backups need it", runKeysList},
		{"keys prune", "remove retired master keys that no kept backup needs", runKeysPrune},
		{"keys status", "list the master keys the database needs and those this node holds", runKeysStatus},
		{"backup run", "make an encrypted backup now and copy it to every backup target", runBackupRun},
		{"backup list", "list the backups on every target, newest first", runBackupList},
		{"backup verify", "check a backup's checksum (and with --identity, its content)", runBackupVerify},
		{"backup keygen", "make an age identity for backups and print its public key (recipient)", runBackupKeygen},
		{"restore", "restore a backup into a new data directory or an empty PostgreSQL database", runRestore},
		{"import", "import subjects and records from CSV or XLSX into a tenant (resumable)", runImport},
		{"journal replay", "erase again what an erasure journal copy lists (after a manual restore)", runJournalReplay},
		{"completion", "print a shell completion script: bash, zsh or fish", runCompletion},
		{"version", "print the version", runVersion},
	}
}

// run is the whole program: it parses args, wires the packages together and runs a command
// until it ends or ctx is cancelled (or SIGINT/SIGTERM arrives).
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	rest := args[1:]
	switch {
	case len(rest) == 0:
		printUsage(stderr)
		return usagef("no command given")
	case rest[0] == "-h" || rest[0] == "--help" || rest[0] == "-help":
		printUsage(stdout)
		return nil
	case rest[0] == "help":
		return runHelp(ctx, e, rest[1:])
	case rest[0] == "--version" || rest[0] == "-version":
		fmt.Fprintln(stdout, "skjold", buildVersion())
		return nil
	}
	for _, c := range commands {
		if n := matches(c.name, rest); n > 0 {
			err := c.run(ctx, e, rest[n:])
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
	}
	if _, subs := groups(); len(subs[rest[0]]) > 0 {
		if len(rest) == 1 {
			printGroup(stderr, rest[0])
			return usagef("%q needs a command: %s", rest[0], strings.Join(subs[rest[0]], ", "))
		}
		if rest[1] == "-h" || rest[1] == "--help" || rest[1] == "-help" {
			printGroup(stdout, rest[0])
			return nil
		}
		return usagef("unknown command %q (see \"skjold %s --help\")", rest[0]+" "+rest[1], rest[0])
	}
	return usagef("unknown command %q (see \"skjold --help\")", rest[0])
}

// runHelp answers "skjold help [command]" as "skjold [command] --help" would.
func runHelp(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		printUsage(e.stdout)
		return nil
	}
	return run(ctx, append(append([]string{"skjold"}, args...), "--help"), e.getenv, e.stdin, e.stdout, e.stderr)
}

// matches returns how many words of args name the command, or 0.
func matches(name string, args []string) int {
	words := strings.Fields(name)
	if len(args) < len(words) {
		return 0
	}
	for i, w := range words {
		if args[i] != w {
			return 0
		}
	}
	return len(words)
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// openKeys opens the master keyring, creating it (and the data directory) on first use when
// it is the default one in the data directory. A configured key file must already exist.
func openKeys(ctx context.Context, cfg Config, create bool) (*keys.Keyring, error) {
	path := cfg.keyFile()
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return keys.OpenKeyring(path)
	case errors.Is(err, os.ErrNotExist) && create && cfg.MasterKeyFile == "":
		// A new key is made only for a database that needs none yet: a second node started
		// without the cluster's key file must not seal anything under a key only it has.
		needed, err := store.MasterKeysNeeded(ctx, cfg.dsn())
		if err != nil {
			return nil, fmt.Errorf("master key file %s does not exist, and whether the database needs one could not be checked: %w", path, err)
		}
		if len(needed) > 0 {
			return nil, fmt.Errorf("master key file %s does not exist, and the database is already in use under master key(s) %s: "+
				"copy the key file from a node that serves this database (or point --master-key-file at it); "+
				"a new key is made only for a new database", path, strings.Join(needed, ", "))
		}
		return keys.CreateKeyring(path)
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("master key file %s does not exist", path)
	}
	return nil, fmt.Errorf("master key file: %w", err)
}

// openStore opens the keyring and the database for a command.
func openStore(ctx context.Context, cfg Config, log *slog.Logger, observe func(string, time.Duration)) (*store.DB, *keys.Keyring, error) {
	if cfg.Database == "" {
		if _, err := os.Stat(cfg.dsn()); err != nil {
			return nil, nil, fmt.Errorf("no database at %s: run \"skjold serve\" once first, or set --data", cfg.dsn())
		}
	}
	ring, err := openKeys(ctx, cfg, false)
	if err != nil {
		return nil, nil, err
	}
	limits, err := cfg.postgresLimits()
	if err != nil {
		return nil, nil, err
	}
	db, err := store.Open(ctx, cfg.dsn(), store.Options{Keys: keys.NewService(ring), Logger: log, Observe: observe, Postgres: limits})
	return db, ring, err
}

// cliContext returns ctx carrying the operator caller that command-line actions run as.
func cliContext(ctx context.Context) context.Context {
	return skjold.NewContextWithCaller(ctx, &skjold.Caller{Actor: "cli", Operator: true, Source: "local", Local: true})
}

func runVersion(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "version", "Print the version: the one stamped at build time, or else the module version or\n"+
		"VCS revision the Go toolchain recorded.")
	asJSON := fs.Bool("json", false, "print the version as JSON")
	if err := parseArgs(e, fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, map[string]string{"version": buildVersion()})
	}
	fmt.Fprintln(e.stdout, "skjold", buildVersion())
	return nil
}
