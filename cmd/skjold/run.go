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

const usage = `Skjold keeps a business's privacy promises in code: an encrypted personal-data vault
with an audited REST API.

Usage: skjold <command> [flags]

Commands:
  serve          run the HTTPS server (creates ./skjold-data on first start)
  tenant create  create a tenant and its first API token
  token create   create an API token for a tenant, or an operator token
  audit verify   check the audit chain; exits non-zero at the first broken link
  compliance check  check every promise against live state; exits non-zero when one fails
  compliance documents  write the TOMs and records of processing as PDF files (--out DIR)
  maintenance schedule  announce a maintenance window to every tenant's owner
  keys rotate    move every tenant key under a new master key, retiring the old one (safe while serving)
  keys list      show each master key, its state, and which kept backups need it
  keys prune     remove retired master keys that no kept backup needs
  backup run     make an encrypted backup now and copy it to every backup target
  backup list    list the backups on every target, newest first
  backup verify  check a backup's checksum (and with --identity, its content)
  backup keygen  make an age identity for backups and print its public key (recipient)
  restore        restore a backup into a new data directory or an empty PostgreSQL database
  journal replay erase again what an erasure journal copy lists (after a manual restore)
  version        print the version

Run "skjold <command> --help" for a command's flags.
`

// env is what run hands to every command.
type env struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one subcommand: its name (one or two words) and what it does.
type command struct {
	name string
	run  func(ctx context.Context, e env, args []string) error
}

var commands = []command{
	{"serve", runServe},
	{"tenant create", runTenantCreate},
	{"token create", runTokenCreate},
	{"audit verify", runAuditVerify},
	{"compliance check", runComplianceCheck},
	{"compliance documents", runComplianceDocuments},
	{"maintenance schedule", runMaintenanceSchedule},
	{"keys rotate", runKeysRotate},
	{"keys list", runKeysList},
	{"keys prune", runKeysPrune},
	{"keys status", runKeysStatus},
	{"backup run", runBackupRun},
	{"backup list", runBackupList},
	{"backup verify", runBackupVerify},
	{"backup keygen", runBackupKeygen},
	{"restore", runRestore},
	{"journal replay", runJournalReplay},
	{"version", runVersion},
}

// run is the whole program: it parses args, wires the packages together and runs a command
// until it ends or ctx is cancelled (or SIGINT/SIGTERM arrives).
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	rest := args[1:]
	if len(rest) == 0 || rest[0] == "-h" || rest[0] == "--help" || rest[0] == "help" {
		fmt.Fprint(stdout, usage)
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
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", rest[0])
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

// newFlagSet returns a flag set for a command, printing its help to stdout.
func newFlagSet(e env, name, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet("skjold "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fs.SetOutput(e.stdout)
		fmt.Fprintf(e.stdout, "Usage: skjold %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
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
	fs := newFlagSet(e, "version", "Print the version.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "skjold", version)
	return nil
}
