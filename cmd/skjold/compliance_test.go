package main

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
)

// TestComplianceCheckCLI runs `skjold compliance check` on a fresh installation: no backup has
// run at the promised times yet, so it exits non-zero and says which checks fail; once the
// profiles promise only what the installation keeps, it exits zero.
func TestComplianceCheckCLI(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	if err := startServer(t, data, nil).stop(); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, nil, "tenant", "create", "--name", "Vestland Reiser AS", "--data", data); err != nil {
		t.Fatalf("tenant create: %v\n%s", err, out)
	}
	out, err := runCLI(t, nil, "compliance", "check", "--json", "--data", data)
	if err == nil || !strings.Contains(err.Error(), "checks failed") {
		t.Fatalf("compliance check on a fresh installation: err = %v, want failed checks\n%s", err, out)
	}
	var rep skjold.ComplianceReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	status := map[string]string{}
	for _, sc := range rep.Scopes {
		for _, ch := range sc.Checks {
			kind := "tenant"
			if sc.TenantID == "" {
				kind = "operator"
			}
			status[kind+":"+ch.Requirement] = ch.Status
		}
	}
	for key, want := range map[string]string{
		"operator:E1": skjold.CheckFail, "tenant:E1": skjold.CheckFail, "tenant:E4": skjold.CheckFail,
		"tenant:B9": skjold.CheckPass, "tenant:F3": skjold.CheckPass, "tenant:D1": skjold.CheckPass,
		"tenant:G1": skjold.CheckFail, "operator:D1": skjold.CheckNotConfigured, "operator:G2": skjold.CheckNotConfigured,
	} {
		if status[key] != want {
			t.Errorf("%s = %q, want %q", key, status[key], want)
		}
	}

	// The first start's owner has not logged in yet: no second factor, no training.
	if status["operator:B6"] != skjold.CheckFail || status["operator:B15"] != skjold.CheckFail {
		t.Errorf("operator B6 = %s, B15 = %s; want both failed for the bootstrap owner", status["operator:B6"], status["operator:B15"])
	}

	// Promise only what a server that never ran a backup keeps: the text output passes.
	db, err := sql.Open("sqlite", filepath.Join(data, "skjold.db"))
	if err != nil {
		t.Fatal(err)
	}
	profile := `{"backup_times":[],"backup_zone":"UTC","offsite":false,"daily_copies":0,"drill":false,"min_password_length":12,
		"admin_two_factor":true,"max_idle_minutes":15,"offboarding":true,"training":true,"retention":true,"audit_chain":true,"dpa":false}`
	for _, sc := range rep.Scopes {
		p := profile
		if sc.TenantID == "" {
			p = strings.NewReplacer(`"admin_two_factor":true`, `"admin_two_factor":false`, `"training":true`, `"training":false`).Replace(p)
		}
		if _, err := db.Exec("INSERT INTO compliance_profiles (tenant_id, profile, updated_at) VALUES (?, ?, 0)", sc.TenantID, p); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	out, err = runCLI(t, nil, "compliance", "check", "--data", data)
	if err != nil || !strings.Contains(out, "idle_lock") || !strings.Contains(out, ": 0 failed") {
		t.Fatalf("compliance check with kept promises: %v\n%s", err, out)
	}
}

// TestMaintenanceScheduleCLI: a window is scheduled from the command line; a bad time is
// refused.
func TestMaintenanceScheduleCLI(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	if err := startServer(t, data, nil).stop(); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, nil, "maintenance", "schedule", "--starts", "soon", "--ends", "2099-01-01T23:00:00Z",
		"--note", "Database upgrade", "--data", data); err == nil {
		t.Fatalf("a bad time was accepted: %s", out)
	}
	out, err := runCLI(t, nil, "maintenance", "schedule", "--starts", "2099-01-01T22:00:00Z", "--ends", "2099-01-01T23:00:00Z",
		"--note", "Database upgrade", "--data", data)
	if err != nil || !strings.Contains(out, "scheduled from 2099-01-01T22:00:00Z to 2099-01-01T23:00:00Z") {
		t.Fatalf("maintenance schedule: %v\n%s", err, out)
	}
}
