package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestKeysRotateListPrune: a rotation retires the old master key instead of deleting it;
// keys list shows it retired and needed by the backup made before; keys prune keeps it, and
// says why, while that backup is kept, and removes it (audited) once no kept backup needs it.
func TestKeysRotateListPrune(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "skjold-data")
	identity := filepath.Join(dir, "backup-identity.txt")
	recipient, err := runCLI(t, nil, "backup", "keygen", "--out", identity)
	must(t, err)
	mirror := filepath.Join(dir, "mirror")
	env := map[string]string{"SKJOLD_BACKUP_RECIPIENTS": strings.TrimSpace(recipient), "SKJOLD_BACKUP_DIRS": mirror}
	s := startServer(t, data, env)
	must(t, s.stop())
	_, err = runCLI(t, env, "tenant", "create", "--name", "Vestland Reiser AS", "--data", data)
	must(t, err)
	out, err := runCLI(t, env, "backup", "run", "--data", data)
	must(t, err)
	id := regexp.MustCompile(`^backup (\S+):`).FindStringSubmatch(out)[1]

	out, err = runCLI(t, env, "keys", "rotate", "--data", data)
	must(t, err)
	old := regexp.MustCompile(`rotated: (\S+) →`).FindStringSubmatch(out)[1]
	if !strings.Contains(out, "retired") {
		t.Errorf("keys rotate printed %q, want it to say the old key is retired", out)
	}
	key, err := os.ReadFile(filepath.Join(data, "master.key"))
	must(t, err)
	if !regexp.MustCompile(`(?m)^` + old + ` \S+ retired=\d{4}-`).Match(key) {
		t.Fatalf("the key file does not keep %s as retired:\n%s", old, key)
	}

	out, err = runCLI(t, env, "keys", "list", "--data", data)
	must(t, err)
	if !regexp.MustCompile(old + `  retired \S+  .*kept backups need it \(newest ` + id).MatchString(out) {
		t.Errorf("keys list printed %q, want %s retired and needed by %s", out, old, id)
	}
	out, err = runCLI(t, env, "keys", "prune", "--data", data)
	must(t, err)
	if !strings.Contains(out, "kept "+old) || !strings.Contains(out, id) {
		t.Errorf("keys prune printed %q, want %s kept because backup %s needs it", out, old, id)
	}
	if key, _ := os.ReadFile(filepath.Join(data, "master.key")); !strings.Contains(string(key), old) {
		t.Fatal("keys prune removed a key a kept backup needs")
	}

	// Once the backup is gone (rotation of the target), the key goes too.
	for _, name := range []string{id + ".skjold.age", id + ".manifest.json"} {
		must(t, os.Remove(filepath.Join(mirror, name)))
	}
	out, err = runCLI(t, env, "keys", "prune", "--data", data)
	must(t, err)
	if !strings.Contains(out, "removed from") || !strings.Contains(out, old) {
		t.Errorf("keys prune printed %q, want %s removed", out, old)
	}
	if key, _ := os.ReadFile(filepath.Join(data, "master.key")); strings.Contains(string(key), old) {
		t.Error("keys prune kept a retired key that nothing needs")
	}
}

// TestKeysListReportsMissingKey: a node whose key file lacks a key a kept backup needs is
// reported by keys list, which fails.
func TestKeysListReportsMissingKey(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "skjold-data")
	identity := filepath.Join(dir, "backup-identity.txt")
	recipient, err := runCLI(t, nil, "backup", "keygen", "--out", identity)
	must(t, err)
	mirror := filepath.Join(dir, "mirror")
	env := map[string]string{"SKJOLD_BACKUP_RECIPIENTS": strings.TrimSpace(recipient), "SKJOLD_BACKUP_DIRS": mirror}
	s := startServer(t, data, env)
	must(t, s.stop())
	_, err = runCLI(t, env, "tenant", "create", "--name", "Vestland Reiser AS", "--data", data)
	must(t, err)
	_, err = runCLI(t, env, "backup", "run", "--data", data)
	must(t, err)
	out, err := runCLI(t, env, "keys", "rotate", "--data", data)
	must(t, err)
	old := regexp.MustCompile(`rotated: (\S+) →`).FindStringSubmatch(out)[1]
	keyFile := filepath.Join(data, "master.key")
	key, err := os.ReadFile(keyFile)
	must(t, err)
	var kept []string
	for _, line := range strings.Split(string(key), "\n") {
		if !strings.HasPrefix(line, old) {
			kept = append(kept, line)
		}
	}
	must(t, os.WriteFile(keyFile, []byte(strings.Join(kept, "\n")), 0o600)) // a node that lost it
	out, err = runCLI(t, env, "keys", "list", "--data", data)
	if err == nil || !strings.Contains(err.Error(), old) || !strings.Contains(out, old+"  MISSING") {
		t.Errorf("keys list with a needed key missing: %q, %v", out, err)
	}
}
