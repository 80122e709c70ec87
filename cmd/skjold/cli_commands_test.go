package main

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLIExitStatus: 0 when a command worked, 1 when it failed, 2 when it was called wrongly;
// main turns run's error into that status, as a real process shows.
func TestCLIExitStatus(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		args []string
		want int
	}{
		{nil, exitUsage},
		{[]string{"frobnicate"}, exitUsage},
		{[]string{"tenant"}, exitUsage},
		{[]string{"tenant", "bogus"}, exitUsage},
		{[]string{"backup", "list", "--bogus"}, exitUsage},
		{[]string{"backup", "verify", "--data", empty}, exitUsage},
		{[]string{"token", "revoke", "--data", empty}, exitUsage},
		{[]string{"tenant", "list", "stray", "--data", empty}, exitUsage},
		{[]string{"user", "reset-two-factor", "owner@example.com", "--data", empty}, exitUsage},
		{[]string{"completion", "tcsh"}, exitUsage},
		{[]string{"tenant", "list", "--data", empty}, exitFailure},
		{[]string{"--version"}, exitOK},
		{[]string{"--help"}, exitOK},
		{[]string{"tenant", "--help"}, exitOK},
		{[]string{"help", "backup"}, exitOK},
		{[]string{"tenant", "list", "--help"}, exitOK},
	}
	for _, tt := range tests {
		_, err := runCLI(t, nil, tt.args...)
		if got := exitCode(err); got != tt.want {
			t.Errorf("skjold %s: exit status %d (%v), want %d", strings.Join(tt.args, " "), got, err, tt.want)
		}
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	for args, want := range map[string]int{"frobnicate": exitUsage, "tenant list --data " + empty: exitFailure, "version": exitOK} {
		err := exec.Command(bin, strings.Fields(args)...).Run()
		var ee *exec.ExitError
		got := 0
		if errors.As(err, &ee) {
			got = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("the skjold process, %s: exit status %d, want %d", args, got, want)
		}
	}
}

// TestCLIHelpPerCommand: a command's help shows its own flags and the short global group,
// not the forty-odd server settings, which serve's help lists; every group answers --help.
func TestCLIHelpPerCommand(t *testing.T) {
	out, err := runCLI(t, nil, "tenant", "create", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Usage: skjold tenant create", "--name", "--json", "Global flags:", "--data", "--config", "--master-key-file"} {
		if !strings.Contains(out, want) {
			t.Errorf("tenant create --help lacks %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"--smtp-host", "--backup-s3-secret-key", "--addr"} {
		if strings.Contains(out, not) {
			t.Errorf("tenant create --help lists the server setting %s:\n%s", not, out)
		}
	}
	if n := strings.Count(out, "\n  --"); n > 8 {
		t.Errorf("tenant create --help lists %d flags:\n%s", n, out)
	}
	out, _ = runCLI(t, nil, "serve", "--help")
	for _, want := range []string{"--smtp-host", "--smtp-password-file", "--print-config", "--addr"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help lacks %s", want)
		}
	}
	_, subs := groups()
	for g, words := range subs {
		if len(words) == 0 {
			continue
		}
		out, err := runCLI(t, nil, g, "--help")
		if err != nil {
			t.Errorf("%s --help: %v", g, err)
		}
		for _, w := range words {
			if !strings.Contains(out, g+" "+w) {
				t.Errorf("%s --help does not list %s:\n%s", g, w, out)
			}
		}
	}
	for _, g := range []string{"tenant", "token", "backup", "audit", "keys", "journal", "user", "compliance", "maintenance"} {
		if len(subs[g]) == 0 {
			t.Errorf("group %s has no commands", g)
		}
	}
}

// TestCLICompletion: the scripts parse, and bash's completes groups, commands and flags.
func TestCLICompletion(t *testing.T) {
	dir := t.TempDir()
	for _, sh := range []string{"bash", "zsh", "fish"} {
		out, err := runCLI(t, nil, "completion", sh)
		if err != nil || !strings.Contains(out, "skjold") {
			t.Fatalf("completion %s: %v", sh, err)
		}
		path := filepath.Join(dir, "skjold."+sh)
		os.WriteFile(path, []byte(out), 0o600)
		if _, err := exec.LookPath(sh); err != nil {
			continue
		}
		if msg, err := exec.Command(sh, "-n", path).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", sh, err, msg)
		}
	}
	script := `source "$1"
complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _skjold; echo "${COMPREPLY[*]}"; }
complete_words skjold ten
complete_words skjold token ""
complete_words skjold backup list --js
complete_words skjold user reset-two-factor --break`
	out, err := exec.Command("bash", "-c", script, "bash", filepath.Join(dir, "skjold.bash")).CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	want := "tenant\ncreate list revoke\n--json\n--break-glass\n"
	if string(out) != want {
		t.Errorf("bash completion gave\n%s\nwant\n%s", out, want)
	}
}

// TestCLIVersion: --version and version agree, and --json gives the same.
func TestCLIVersion(t *testing.T) {
	a, _ := runCLI(t, nil, "--version")
	b, _ := runCLI(t, nil, "version")
	j, _ := runCLI(t, nil, "version", "--json")
	var v struct{ Version string }
	if a != b || a == "" || json.Unmarshal([]byte(j), &v) != nil || "skjold "+v.Version+"\n" != a {
		t.Errorf("--version %q, version %q, version --json %q", a, b, j)
	}
	old := version
	t.Cleanup(func() { version = old })
	version = "1.2.3"
	if got := buildVersion(); got != "1.2.3" {
		t.Errorf("a stamped version is shown as it is: %q", got)
	}
}

// TestConfigTypedTOML: numbers, booleans and arrays are read as typed, and the old string
// forms still are; a table or a nested array is refused.
func TestConfigTypedTOML(t *testing.T) {
	dir := t.TempDir()
	file := func(body string) string {
		p := filepath.Join(dir, "c.toml")
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	out, err := runCLI(t, nil, "serve", "--print-config", "--config",
		file("backup_keep = 9\nbackup_times = [\"13:00\", \"18:30\"]\npassword_checks = 8\nban_ipv6_prefix = 56\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`backup_keep = "9"`, `backup_times = "13:00,18:30"`, `password_checks = "8"`, `ban_ipv6_prefix = "56"`} {
		if !strings.Contains(out, w) {
			t.Errorf("typed TOML: the configuration lacks %s:\n%s", w, out)
		}
	}
	out, err = runCLI(t, nil, "serve", "--print-config", "--config", file("backup_keep = \"5\"\nbackup_times = \"11:00,12:00\"\n"))
	if err != nil || !strings.Contains(out, `backup_keep = "5"`) || !strings.Contains(out, `backup_times = "11:00,12:00"`) {
		t.Errorf("the old string forms: %v\n%s", err, out)
	}
	for _, bad := range []string{"[backup]\nkeep = 7\n", "backup_times = [[\"13:00\"]]\n", "backup_keep = 0\n",
		"backup_times = [\"13:00,14:00\"]\n", "no_such = 1\n", "backup_keep = 1.5\n"} {
		if _, err := runCLI(t, nil, "serve", "--print-config", "--config", file(bad)); err == nil {
			t.Errorf("config %q was accepted", bad)
		}
	}
}

// TestConfigSecretFiles: every secret can come from a file read at start; both a secret and
// its file, or a missing or empty file, are refused; --print-config never shows the secret.
func TestConfigSecretFiles(t *testing.T) {
	dir := t.TempDir()
	secret := func(name, v string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(v), 0o600)
		return p
	}
	env := map[string]string{
		"SKJOLD_SMTP_PASSWORD_FILE":        secret("smtp", "smtp-s3cret\n"),
		"SKJOLD_ALERT_WEBHOOK_SECRET_FILE": secret("hook", "hook-s3cret-0123456789abcdef0123456789\r\n"),
		"SKJOLD_BACKUP_S3_ACCESS_KEY_FILE": secret("s3a", "AKIAEXAMPLE"),
		"SKJOLD_BACKUP_S3_SECRET_KEY_FILE": secret("s3s", "s3-s3cret\n"),
		"SKJOLD_DATABASE_FILE":             secret("db", "postgres://skjold:db-s3cret@db.internal/skjold\n"),
		"SKJOLD_BACKUP_S3_ENDPOINT":        "s3.example.com",
		"SKJOLD_BACKUP_S3_BUCKET":          "backups",
	}
	load := func(env map[string]string, args ...string) (Config, error) {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		l := configFlags(fs, func(k string) string { return env[k] })
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return l()
	}
	cfg, err := load(env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SMTPPassword != "smtp-s3cret" || cfg.AlertWebhookSecret != "hook-s3cret-0123456789abcdef0123456789" ||
		cfg.BackupS3AccessKey != "AKIAEXAMPLE" || cfg.BackupS3SecretKey != "s3-s3cret" ||
		cfg.Database != "postgres://skjold:db-s3cret@db.internal/skjold" {
		t.Errorf("secrets from files: %+v", cfg)
	}
	if p := cfg.printable(); strings.Contains(p, "s3cret") {
		t.Errorf("--print-config shows a secret read from a file:\n%s", p)
	}
	if _, err := load(env, "--smtp-password", "x"); err == nil || !strings.Contains(err.Error(), "smtp_password_file") {
		t.Errorf("a secret and its file both set: %v", err)
	}
	for name, body := range map[string]string{"missing": "", "empty": "\n", "two lines": "a\nb\n"} {
		path := filepath.Join(dir, "nope")
		if name != "missing" {
			path = secret(name, body)
		}
		if _, err := load(map[string]string{"SKJOLD_SMTP_PASSWORD_FILE": path}); err == nil {
			t.Errorf("smtp_password_file %s was accepted", name)
		}
	}
	cfgFile := secret("c.toml", "smtp_password_file = \""+env["SKJOLD_SMTP_PASSWORD_FILE"]+"\"\n")
	if cfg, err := load(nil, "--config", cfgFile); err != nil || cfg.SMTPPassword != "smtp-s3cret" {
		t.Errorf("smtp_password_file in the config file: %v %q", err, cfg.SMTPPassword)
	}
}

// TestCLIProgress: plain lines at most once an interval with bytes, rate and ETA when the
// total is known, and a summary at the end; on a terminal, a bar redrawn in place.
func TestCLIProgress(t *testing.T) {
	var buf strings.Builder
	clock := time.Unix(0, 0)
	p := &progress{w: &buf, what: "backup", unit: "bytes", interval: 5 * time.Second, now: func() time.Time { return clock }}
	p.start, p.last = clock, clock
	for i := int64(1); i <= 20; i++ {
		clock = clock.Add(time.Second)
		p.update(i*1_000_000, 40_000_000)
	}
	p.finish()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("want a line every 5 s for 20 s and a summary, got:\n%s", buf.String())
	}
	if lines[0] != "backup: 5.0 MB of 40.0 MB, 1.0 MB/s, ETA 35s" {
		t.Errorf("progress line: %q", lines[0])
	}
	if lines[4] != "backup: 20.0 MB, 1.0 MB/s, done in 20s" {
		t.Errorf("summary line: %q", lines[4])
	}
	buf.Reset()
	p.tty, p.interval = true, 0
	p.update(30_000_000, 40_000_000)
	if got := buf.String(); !strings.HasPrefix(got, "\r\033[K[======================        ] backup: 30.0 MB of 40.0 MB") || strings.Contains(got, "\n") {
		t.Errorf("terminal bar: %q", got)
	}
}
