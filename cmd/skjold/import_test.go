package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIImport: skjold import reports a refused row by line, field and rule without its
// value, writes the good rows, shows progress on stderr, exits 1 for refused rows and 2 for a
// missing --tenant, and a second run skips what the first imported.
func TestCLIImport(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	startServer(t, data, nil)
	out, err := runCLI(t, nil, "tenant", "create", "--name", "Fjordvik Sykkel AS", "--json", "--data", data)
	if err != nil {
		t.Fatalf("tenant create: %v\n%s", err, out)
	}
	var made struct{ Tenant struct{ ID string } }
	if err := json.Unmarshal([]byte(out), &made); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "kunder.csv")
	os.WriteFile(file, []byte("Kundenr,E-post,Notat\nK1,kari@example.com,x\nK2,card 4111 1111 1111 1111,y\nK3,per@example.com,z\n"), 0o600)
	mapping := filepath.Join(dir, "mapping.json")
	os.WriteFile(mapping, []byte(`{"Kundenr": "ref", "E-post": "email", "Notat": "-"}`), 0o600)

	cli := func(args ...string) (string, string, error) {
		var stdout, stderr syncBuffer
		err := run(context.Background(), append([]string{"skjold"}, args...), func(string) string { return "" },
			strings.NewReader(""), &stdout, &stderr)
		return stdout.String(), stderr.String(), err
	}
	if _, _, err := cli("import", file, "--data", data); exitCode(err) != exitUsage {
		t.Fatalf("without --tenant: %v (exit %d), want a usage error", err, exitCode(err))
	}
	stdout, stderr, err := cli("import", file, "--tenant", made.Tenant.ID, "--mapping", mapping, "--json", "--data", data)
	if exitCode(err) != exitFailure {
		t.Fatalf("import with a bad row: %v, want exit 1\n%s", err, stdout)
	}
	var rep struct {
		Imported, Refused, Skipped int
		Problems                   []struct {
			Line        int
			Field, Rule string
		}
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	if rep.Imported != 2 || rep.Refused != 1 || len(rep.Problems) != 1 || rep.Problems[0].Line != 3 ||
		rep.Problems[0].Field != "email" || rep.Problems[0].Rule != "email" {
		t.Fatalf("report: %+v", rep)
	}
	if !strings.Contains(stderr, "import: 3 subjects") {
		t.Errorf("no progress on stderr: %q", stderr)
	}
	for _, s := range []string{stdout, stderr, err.Error()} {
		if strings.Contains(s, "4111") || strings.Contains(s, "kari@") {
			t.Errorf("a value shows: %q", s)
		}
	}
	stdout, _, err = cli("import", file, "--tenant", made.Tenant.ID, "--mapping", mapping, "--data", data)
	if exitCode(err) != exitFailure || !strings.Contains(stdout, "0 imported, 2 imported before (skipped), 1 refused") ||
		!strings.Contains(stdout, "line 3: email: email (") {
		t.Fatalf("second run: %v\n%s", err, stdout)
	}
}
