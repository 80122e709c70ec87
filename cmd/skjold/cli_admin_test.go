package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// TestCLIListsAndJSON: tenant list, token list and token revoke work and answer --json, as
// do the other commands that print a result.
func TestCLIListsAndJSON(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	backups := filepath.Join(t.TempDir(), "backups")
	os.MkdirAll(backups, 0o700)
	env := map[string]string{"SKJOLD_BACKUP_DIRS": backups}
	startServer(t, data, nil)
	cli := func(v any, args ...string) {
		t.Helper()
		out, err := runCLI(t, env, append(args, "--json", "--data", data)...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("%s --json is not JSON: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	var made struct {
		Tenant struct{ ID string }
		Token  struct{ ID string }
	}
	cli(&made, "tenant", "create", "--name", "Fjordvik Sykkel AS")
	var tenants struct {
		Tenants []struct{ ID, Name, Status string }
	}
	cli(&tenants, "tenant", "list")
	if len(tenants.Tenants) != 1 || tenants.Tenants[0].ID != made.Tenant.ID || tenants.Tenants[0].Status != "active" {
		t.Errorf("tenant list: %+v", tenants)
	}
	out, err := runCLI(t, nil, "tenant", "list", "--data", data)
	if err != nil || !strings.Contains(out, made.Tenant.ID) || !strings.Contains(out, "Fjordvik Sykkel AS") {
		t.Errorf("tenant list: %v\n%s", err, out)
	}
	var second struct{ ID string }
	cli(&second, "token", "create", "--tenant", made.Tenant.ID, "--scopes", "read")
	type tokens struct {
		Tokens []struct {
			ID, Secret string
			TenantID   string `json:"tenant_id"`
			Scopes     []string
		}
	}
	var list tokens
	cli(&list, "token", "list", "--tenant", made.Tenant.ID)
	if len(list.Tokens) != 2 {
		t.Fatalf("token list --tenant: %+v", list)
	}
	for _, tok := range list.Tokens {
		if tok.Secret != "" || tok.TenantID != made.Tenant.ID {
			t.Errorf("token list shows a secret or another tenant's token: %+v", tok)
		}
	}
	var ops tokens
	cli(&ops, "token", "list", "--operator")
	if len(ops.Tokens) == 0 {
		t.Error("token list --operator: the bootstrap token is missing")
	}
	var revoked struct {
		ID      string
		Revoked bool
	}
	cli(&revoked, "token", "revoke", second.ID)
	if !revoked.Revoked || revoked.ID != second.ID {
		t.Errorf("token revoke: %+v", revoked)
	}
	cli(&list, "token", "list", "--tenant", made.Tenant.ID)
	if len(list.Tokens) != 1 || list.Tokens[0].ID != made.Token.ID {
		t.Errorf("a revoked token is still listed: %+v", list)
	}
	cli(&list, "token", "list", "--tenant", made.Tenant.ID, "--all")
	if len(list.Tokens) != 2 {
		t.Errorf("token list --all leaves out the revoked token: %+v", list)
	}
	if _, err := runCLI(t, nil, "token", "revoke", second.ID, "--data", data); exitCode(err) != exitFailure {
		t.Errorf("revoking a revoked token: %v", err)
	}
	var audit struct {
		OK     bool
		Events int
	}
	cli(&audit, "audit", "verify")
	if !audit.OK || audit.Events == 0 {
		t.Errorf("audit verify --json: %+v", audit)
	}
	var keyList struct{ Keys []struct{ ID, State string } }
	cli(&keyList, "keys", "list")
	if len(keyList.Keys) != 1 || keyList.Keys[0].State != "primary" {
		t.Errorf("keys list --json: %+v", keyList)
	}
	var status struct{ Needed, Held, Missing []string }
	cli(&status, "keys", "status")
	if len(status.Needed) == 0 || len(status.Missing) != 0 {
		t.Errorf("keys status --json: %+v", status)
	}
	var backupList struct {
		Targets []struct {
			Target  string
			Backups []any
		}
	}
	cli(&backupList, "backup", "list")
	if len(backupList.Targets) != 1 || backupList.Targets[0].Backups == nil {
		t.Errorf("backup list --json: %+v", backupList)
	}
}

// TestCLIBreakGlassTwoFactorReset: a sole operator owner who lost their second factor gets it
// removed on the server's machine: refused without --break-glass, the data directory or the
// master key; audited; every operator owner is e-mailed.
func TestCLIBreakGlassTwoFactorReset(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	const owner = "owner@fjord-it.example"
	s := startServer(t, data, map[string]string{"SKJOLD_OPERATOR_EMAIL": owner})
	ownerSession(t, s, data, owner) // enrols the owner's second factor
	reset := func(args ...string) (string, error) {
		return runCLI(t, nil, append([]string{"user", "reset-two-factor"}, args...)...)
	}
	if _, err := reset(owner, "--data", data); exitCode(err) != exitUsage || !strings.Contains(err.Error(), "--break-glass") {
		t.Errorf("without --break-glass: %v", err)
	}
	if _, err := reset(owner, "--break-glass", "--data", filepath.Join(t.TempDir(), "elsewhere")); exitCode(err) != exitFailure ||
		!strings.Contains(err.Error(), "data directory") {
		t.Errorf("without the data directory: %v", err)
	}
	if _, err := reset(owner, "--break-glass", "--data", data, "--master-key-file", filepath.Join(t.TempDir(), "master.key")); exitCode(err) != exitFailure ||
		!strings.Contains(err.Error(), "master key") {
		t.Errorf("without the master key: %v", err)
	}
	if _, err := reset("nobody@fjord-it.example", "--break-glass", "--data", data); exitCode(err) != exitFailure {
		t.Errorf("an unknown user: %v", err)
	}
	out, err := reset(owner, "--break-glass", "--json", "--data", data)
	if err != nil {
		t.Fatalf("break glass: %v\n%s", err, out)
	}
	var res struct {
		User          string
		Reset         bool
		OwnersAlerted int `json:"owners_alerted"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.Reset || res.User == "" || res.OwnersAlerted != 1 {
		t.Fatalf("break glass --json: %v %s", err, out)
	}
	if strings.Contains(out, owner) {
		t.Errorf("the answer names the user by address: %s", out)
	}
	if _, err := reset(owner, "--break-glass", "--data", data); err == nil || !strings.Contains(err.Error(), "no second factor") {
		t.Errorf("a second reset finds a second factor still there: %v", err)
	}
	mail := outboxFind(t, data, owner, func(body string) bool { return strings.Contains(body, "break-glass") })
	if !strings.Contains(mail, res.User) || strings.Contains(mail, owner) {
		t.Errorf("the alert names the user by id (not address):\n%s", mail)
	}
	var events struct {
		Items []struct {
			Actor  string
			Fields []string
		}
	}
	if code := s.call(t, "GET", "/api/v1/audit?action=auth.2fa_reset", readToken(t, data), nil, &events); code != 200 {
		t.Fatalf("audit: %d", code)
	}
	if len(events.Items) != 1 || events.Items[0].Actor != "cli" || !strings.Contains(strings.Join(events.Items[0].Fields, " "), "via:break_glass") ||
		!strings.Contains(strings.Join(events.Items[0].Fields, " "), "user:"+res.User) {
		t.Errorf("audit events: %+v", events)
	}
	// Through the store, only the local command line may break glass: an operator owner
	// over the API may not.
	cfg := defaultConfig()
	cfg.Data = data
	db, _, err := openStore(context.Background(), cfg, newLogger(io.Discard, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	api := skjold.NewContextWithCaller(context.Background(), &skjold.Caller{Actor: "user:x", Operator: true, Source: "192.0.2.1",
		Role: skjold.RoleOwner, Scopes: skjold.RoleScopes(true, skjold.RoleOwner)})
	if _, err := db.BreakGlassResetTwoFactor(api, "", owner); skjold.ErrorCode(err) != skjold.EFORBIDDEN {
		t.Errorf("break glass by an API caller: %v", err)
	}
}

// TestCLIBackupProgressAndJSON: backup run and restore report progress on stderr and keep
// stdout for the result, so --json stays parseable.
func TestCLIBackupProgressAndJSON(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "skjold-data")
	identity := filepath.Join(dir, "identity.txt")
	var kg struct{ Recipient string }
	out, err := runCLI(t, nil, "backup", "keygen", "--out", identity, "--json")
	if err != nil || json.Unmarshal([]byte(out), &kg) != nil || !strings.HasPrefix(kg.Recipient, "age1") {
		t.Fatalf("backup keygen --json: %v %s", err, out)
	}
	env := map[string]string{"SKJOLD_BACKUP_DIRS": filepath.Join(dir, "backups"), "SKJOLD_BACKUP_RECIPIENTS": kg.Recipient}
	startServer(t, data, env)
	cli := func(args ...string) (string, string) {
		t.Helper()
		var stdout, stderr syncBuffer
		err := run(context.Background(), append([]string{"skjold"}, args...), func(k string) string { return env[k] },
			strings.NewReader(""), &stdout, &stderr)
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	out, progress := cli("backup", "run", "--json", "--data", data)
	var m struct{ ID, SHA256 string }
	if err := json.Unmarshal([]byte(out), &m); err != nil || m.ID == "" || m.SHA256 == "" {
		t.Fatalf("backup run --json: %v %s", err, out)
	}
	if !regexp.MustCompile(`(?m)^backup: [0-9.]+ (B|kB|MB), [0-9.]+ (B|kB|MB)/s, done in `).MatchString(progress) {
		t.Errorf("backup run's progress on stderr: %q", progress)
	}
	restored := filepath.Join(dir, "restored")
	os.MkdirAll(restored, 0o700)
	key, _ := os.ReadFile(filepath.Join(data, "master.key"))
	os.WriteFile(filepath.Join(restored, "master.key"), key, 0o600)
	out, progress = cli("restore", "--from", filepath.Join(dir, "backups"), "--identity", identity, "--to", restored, "--json")
	var rep struct {
		Backup      struct{ ID string }
		AuditEvents int `json:"audit_events"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Backup.ID != m.ID || rep.AuditEvents == 0 {
		t.Errorf("restore --json: %v %s", err, out)
	}
	if !strings.Contains(progress, "restore: ") || !strings.Contains(progress, "done in") {
		t.Errorf("restore's progress on stderr: %q", progress)
	}
	var list struct {
		Targets []struct{ Backups []struct{ ID string } }
	}
	out, _ = cli("backup", "list", "--json", "--data", data)
	if json.Unmarshal([]byte(out), &list) != nil || len(list.Targets) != 1 || len(list.Targets[0].Backups) != 1 || list.Targets[0].Backups[0].ID != m.ID {
		t.Errorf("backup list --json: %s", out)
	}
	var verify struct {
		Targets []struct{ OK bool }
	}
	out, _ = cli("backup", "verify", m.ID, "--json", "--data", data)
	if json.Unmarshal([]byte(out), &verify) != nil || len(verify.Targets) != 1 || !verify.Targets[0].OK {
		t.Errorf("backup verify --json: %s", out)
	}
}
