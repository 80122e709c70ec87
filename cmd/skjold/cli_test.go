package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestTenantAndTokenCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	if _, err := runCLI(t, nil, "tenant", "create", "--name", "x", "--data", data); err == nil || !strings.Contains(err.Error(), "skjold serve") {
		t.Fatalf("before the first start the commands should say to run serve: %v", err)
	}
	s := startServer(t, data, nil)
	out, err := runCLI(t, nil, "tenant", "create", "--name", "Lærdal Kurs AS", "--json", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Tenant struct{ ID, Name string }
		Token  struct{ Secret string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Tenant.Name != "Lærdal Kurs AS" || res.Token.Secret == "" {
		t.Fatalf("tenant create --json: %v %s", err, out)
	}
	// The token made by the CLI works against the running server.
	if code := s.call(t, "GET", "/api/v1/categories", res.Token.Secret, nil, nil); code != 200 {
		t.Fatalf("CLI-made tenant token: %d", code)
	}
	out, err = runCLI(t, nil, "token", "create", "--tenant", res.Tenant.ID, "--scopes", "read", "--name", "reporting", "--json", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Secret string
		Scopes []string
	}
	json.Unmarshal([]byte(out), &tok)
	if code := s.call(t, "GET", "/api/v1/categories", tok.Secret, nil, nil); code != 200 {
		t.Fatalf("read token: %d", code)
	}
	if code := s.call(t, "POST", "/api/v1/subjects", tok.Secret, map[string]string{"name": "x"}, nil); code != 403 {
		t.Fatalf("a read-only token must not write: %d", code)
	}
	if _, err := runCLI(t, nil, "tenant", "create", "--name", "", "--data", data); err == nil {
		t.Error("an empty tenant name must be refused")
	}
	if _, err := runCLI(t, nil, "token", "create", "--tenant", res.Tenant.ID, "--scopes", "everything", "--data", data); err == nil {
		t.Error("an unknown scope must be refused")
	}
	out, err = runCLI(t, nil, "token", "create", "--operator", "--json", "--data", data)
	if err != nil || !strings.Contains(out, "skjold_o_") {
		t.Fatalf("operator token: %v %s", err, out)
	}
}

// TestOperatorTokenScopes: `token create --operator --scopes` gives the token exactly those
// operator scopes, and refuses tenant scopes and staff management rather than ignore them.
func TestOperatorTokenScopes(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	out, err := runCLI(t, nil, "token", "create", "--operator", "--scopes", "operator.read", "--json", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Secret string
		Scopes []string
	}
	if err := json.Unmarshal([]byte(out), &tok); err != nil || strings.Join(tok.Scopes, ",") != "operator.read" {
		t.Fatalf("token create --operator --scopes operator.read: %v %s", err, out)
	}
	if code := s.call(t, "GET", "/metrics", tok.Secret, nil, nil); code != 200 {
		t.Errorf("an operator.read token reads /metrics: %d", code)
	}
	if code := s.call(t, "POST", "/api/v1/tenants", tok.Secret, map[string]string{"name": "x"}, nil); code != 403 {
		t.Errorf("an operator.read token must not create tenants: %d", code)
	}
	for _, scopes := range []string{"read", "operator.staff", "operator.read,admin", "operator.everything"} {
		if out, err := runCLI(t, nil, "token", "create", "--operator", "--scopes", scopes, "--data", data); err == nil {
			t.Errorf("token create --operator --scopes %s was not refused: %s", scopes, out)
		}
	}
	out, err = runCLI(t, nil, "token", "create", "--operator", "--json", "--data", data)
	if err != nil || !strings.Contains(out, `"operator.manage"`) || !strings.Contains(out, `"operator.read"`) {
		t.Errorf("token create --operator without --scopes gives operator.manage and operator.read: %v %s", err, out)
	}
}
