package client

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestTypeScriptClientCompiles generates a TypeScript client from http/openapi.json with the
// pinned @hey-api/openapi-ts of ts/package.json and type-checks it, with ts/example.ts as a
// caller, by the pinned TypeScript compiler. The packages come from the npm registry the first
// time (npm ci, as .ci/run does); gen/ and node_modules/ are not committed.
func TestTypeScriptClientCompiles(t *testing.T) {
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = "ts"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	if _, err := os.Stat(filepath.Join("ts", "node_modules", ".bin", "openapi-ts")); err != nil {
		run("npm", "ci", "--no-audit", "--no-fund")
	}
	if err := os.RemoveAll(filepath.Join("ts", "gen")); err != nil {
		t.Fatal(err)
	}
	run(filepath.Join("node_modules", ".bin", "openapi-ts"))
	if _, err := os.Stat(filepath.Join("ts", "gen", "sdk.gen.ts")); err != nil {
		t.Fatalf("openapi-ts wrote no SDK: %v", err)
	}
	run(filepath.Join("node_modules", ".bin", "tsc"), "-p", ".")
}
