package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "skjold.toml")
	os.WriteFile(file, []byte("addr = \"127.0.0.1:7000\"\ndata = \"from-file\"\nlog_level = \"warn\"\n"), 0o600)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string // lines the printed configuration must hold
	}{
		{"defaults", nil, nil, []string{`addr = "127.0.0.1:8443"`, `data = "skjold-data"`, `master_key_file = "skjold-data/master.key"`}},
		{"file", nil, []string{"--config", file}, []string{`addr = "127.0.0.1:7000"`, `data = "from-file"`, `log_level = "warn"`}},
		{"file from env", map[string]string{"SKJOLD_CONFIG": file}, nil, []string{`addr = "127.0.0.1:7000"`}},
		{"env over file", map[string]string{"SKJOLD_ADDR": "127.0.0.1:7001", "SKJOLD_DATA": "from-env"}, []string{"--config", file},
			[]string{`addr = "127.0.0.1:7001"`, `data = "from-env"`, `log_level = "warn"`}},
		{"flag over env", map[string]string{"SKJOLD_ADDR": "127.0.0.1:7001"}, []string{"--addr", "127.0.0.1:7002", "--data", "d"},
			[]string{`addr = "127.0.0.1:7002"`, `data = "d"`}},
		{"master key file from env", map[string]string{"SKJOLD_MASTER_KEY_FILE": "/etc/skjold/master.key"}, nil,
			[]string{`master_key_file = "/etc/skjold/master.key"`}},
		{"no redirect by default", nil, nil, []string{`redirect_addr = ""`}},
		{"redirect addr from env", map[string]string{"SKJOLD_REDIRECT_ADDR": ":8080"}, nil, []string{`redirect_addr = ":8080"`}},
		{"retention interval default", nil, nil, []string{`retention_interval = "1h"`}},
		{"retention interval from env", map[string]string{"SKJOLD_RETENTION_INTERVAL": "15m"}, nil, []string{`retention_interval = "15m"`}},
		{"redirect addr flag over env", map[string]string{"SKJOLD_REDIRECT_ADDR": ":8080"}, []string{"--redirect-addr", "127.0.0.1:8081"},
			[]string{`redirect_addr = "127.0.0.1:8081"`}},
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
		})
	}
}

func TestPrintConfigHidesSecrets(t *testing.T) {
	env := map[string]string{"SKJOLD_DATABASE": "postgres://skjold:hunter2-very-secret@db.internal:5432/skjold?sslmode=verify-full&password=also-secret"}
	out, err := runCLI(t, env, "serve", "--print-config")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "hunter2") || strings.Contains(out, "also-secret") || !strings.Contains(out, "db.internal") {
		t.Errorf("the printed configuration shows a password or lost the host:\n%s", out)
	}
}

func TestConfigRefused(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.toml")
	os.WriteFile(unknown, []byte("adress = \"127.0.0.1:1\"\n"), 0o600)
	broken := filepath.Join(dir, "broken.toml")
	os.WriteFile(broken, []byte("addr = \n"), 0o600)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown setting", nil, []string{"--config", unknown}, `unknown setting "adress"`},
		{"malformed file", nil, []string{"--config", broken}, "config file"},
		{"missing file", nil, []string{"--config", filepath.Join(dir, "nope.toml")}, "config file"},
		{"bad addr", map[string]string{"SKJOLD_ADDR": "no-port"}, nil, "not host:port"},
		{"bad redirect addr", map[string]string{"SKJOLD_REDIRECT_ADDR": "no-port"}, nil, `redirect_addr "no-port" is not host:port`},
		{"redirect on the HTTPS port", nil, []string{"--addr", "127.0.0.1:8443", "--redirect-addr", "127.0.0.1:8443"}, "must differ from addr"},
		{"half TLS", nil, []string{"--tls-cert", "c.pem"}, "go together"},
		{"bad database", nil, []string{"--database", "mysql://x"}, "postgres://"},
		{"bad log level", nil, []string{"--log-level", "loud"}, "log_level"},
		{"bad retention interval", nil, []string{"--retention-interval", "soon"}, "retention_interval"},
		{"too short retention interval", map[string]string{"SKJOLD_RETENTION_INTERVAL": "10s"}, nil, "at least 1m"},
		{"bad job lease", nil, []string{"--job-lease", "soon"}, "job_lease"},
		{"too short job lease", map[string]string{"SKJOLD_JOB_LEASE": "500ms"}, nil, "from 2s to 10m"},
		{"bad password checks", map[string]string{"SKJOLD_PASSWORD_CHECKS": "many"}, nil, "password_checks: use a whole number"},
		{"no password checks", nil, []string{"--password-checks", "0"}, "password_checks: use a whole number"},
		{"per source above the total", map[string]string{"SKJOLD_PASSWORD_CHECKS": "4", "SKJOLD_PASSWORD_CHECKS_PER_SOURCE": "5"}, nil, "must not exceed"},
		{"IPv6 ban prefix too wide", map[string]string{"SKJOLD_BAN_IPV6_PREFIX": "32"}, nil, "ban_ipv6_prefix"},
		{"IPv6 ban prefix too long", map[string]string{"SKJOLD_BAN_IPV6_PREFIX": "129"}, nil, "ban_ipv6_prefix"},
		{"redirect without a target", nil, []string{"--addr", ":8443", "--redirect-addr", ":8080"}, "public_url"},
		{"bad lock timeout", nil, []string{"--db-lock-timeout", "soon"}, "db_lock_timeout"},
		{"negative statement timeout", map[string]string{"SKJOLD_DB_STATEMENT_TIMEOUT": "-1s"}, nil, "db_statement_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runCLI(t, tt.env, append([]string{"serve", "--print-config"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			out, err := runCLI(t, nil, append(strings.Fields(c.name), "--help")...)
			if err != nil || !strings.Contains(out, "Usage: skjold "+c.name) {
				t.Fatalf("%q --help: %v\n%s", c.name, err, out)
			}
		})
	}
	out, err := runCLI(t, nil, "--help")
	if err != nil || !strings.Contains(out, "keys rotate") {
		t.Fatalf("--help: %v %s", err, out)
	}
	if _, err := runCLI(t, nil, "frobnicate"); err == nil {
		t.Error("an unknown command should fail")
	}
}

func TestMasterKeyFileFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"SKJOLD_MASTER_KEY_FILE": filepath.Join(dir, "missing.key")}
	if _, err := runCLI(t, env, "serve", "--data", filepath.Join(dir, "data"), "--addr", "127.0.0.1:0"); err == nil ||
		!strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("a configured master key file that is missing must be refused, got %v", err)
	}
	loose := filepath.Join(dir, "loose.key")
	os.WriteFile(loose, []byte("x"), 0o644)
	env["SKJOLD_MASTER_KEY_FILE"] = loose
	if _, err := runCLI(t, env, "serve", "--data", filepath.Join(dir, "data"), "--addr", "127.0.0.1:0"); err == nil ||
		!strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a key file readable by others must be refused, got %v", err)
	}
}
