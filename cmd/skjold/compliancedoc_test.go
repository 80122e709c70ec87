package main

import (
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var updateSamples = flag.Bool("update-samples", false, "rewrite the sample PDFs in docs/samples")

// TestComplianceDocumentsCLI sets up a demo tenant the way a small Norwegian travel agency
// would (privacy facts, organisational measures), writes its documents and the operator's
// with `skjold compliance documents`, and reads the PDFs back with pdftotext: the facts of
// the tenant are in them, in each language, with Polish and Norwegian letters intact, and
// page 1 renders to a picture that is not blank. With -update-samples it copies them to
// docs/samples (the committed samples).
func TestComplianceDocumentsCLI(t *testing.T) {
	pdftotext, pdftoppm := poppler(t, "pdftotext"), poppler(t, "pdftoppm")
	data := filepath.Join(t.TempDir(), "skjold-data")
	if err := startServer(t, data, nil).stop(); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, nil, "tenant", "create", "--name", "Fjord Reiser AS", "--json", "--data", data)
	if err != nil {
		t.Fatalf("tenant create: %v\n%s", err, out)
	}
	var created struct{ Tenant struct{ ID string } }
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	demoTenant(t, data, created.Tenant.ID)

	if _, err := runCLI(t, nil, "compliance", "documents", "--data", data); err == nil {
		t.Fatal("compliance documents without --out succeeded")
	}
	dir := t.TempDir()
	if out, err := runCLI(t, nil, "compliance", "documents", "--tenant", created.Tenant.ID, "--out", dir, "--data", data); err != nil {
		t.Fatalf("compliance documents: %v\n%s", err, out)
	}
	opDir := t.TempDir()
	if out, err := runCLI(t, nil, "compliance", "documents", "--kind", "ropa,toms", "--lang", "en", "--out", opDir, "--data", data); err != nil {
		t.Fatalf("compliance documents for the operator: %v\n%s", err, out)
	}
	read := func(path string) string {
		b, err := exec.Command(pdftotext, "-raw", "-enc", "UTF-8", path, "-").Output()
		if err != nil {
			t.Fatalf("pdftotext %s: %v", path, err)
		}
		return strings.Join(strings.Fields(string(b)), " ")
	}
	footer := regexp.MustCompile(`[0-9a-f]{12}`)
	for name, wants := range map[string][]string{
		"ropa-en.pdf": {"Record of processing activities (GDPR Art. 30(1))", "Fjord Reiser AS", "personvern@fjordreiser.example",
			"Datatilsynet", "Widerøe Flyveselskap", "Bergen, Norway", "contract", "Legitimate interest", "P5Y", "data version"},
		"ropa-nb.pdf": {"Protokoll over behandlingsaktiviteter", "Behandlingsgrunnlag", "Overføringer til tredjeland", "Fjord Reiser AS"},
		"ropa-pl.pdf": {"Rejestr czynności przetwarzania", "Przekazywanie do państw trzecich", "Planowane terminy usunięcia danych", "Widerøe"},
		"toms-en.pdf": {"Technical and organisational measures", "at least 12 characters", "locks after 15 minutes",
			"Opplæring i personvern for alle ansatte", "20 November 2026", "Locked server room in Bergen", "AES-256-GCM", "Failed"},
		"toms-nb.pdf": {"Tekniske og organisatoriske tiltak", "Hver personopplysning forsegles", "Fysisk sikkerhet"},
		"toms-pl.pdf": {"Środki techniczne i organizacyjne", "Bezpieczeństwo fizyczne", "Szkolenie", "20 listopada 2026"},
	} {
		text := read(filepath.Join(dir, name))
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q:\n%s", name, w, text)
			}
		}
		if !footer.MatchString(text) {
			t.Errorf("%s names no data version", name)
		}
	}
	if text := read(filepath.Join(opDir, "ropa-en.pdf")); !strings.Contains(text, "Art. 30(2)") || !strings.Contains(text, "Fjord Reiser AS") {
		t.Errorf("the operator's records do not list the tenant as a controller:\n%s", text)
	}
	prefix := filepath.Join(t.TempDir(), "page")
	if out, err := exec.Command(pdftoppm, "-png", "-r", "40", "-f", "1", "-l", "1", "-singlefile", filepath.Join(dir, "toms-pl.pdf"), prefix).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	if n, total := inkedPixels(t, prefix+".png"); n < total/100 {
		t.Errorf("page 1 of toms-pl.pdf has %d non-white pixels of %d: blank", n, total)
	}
	if *updateSamples {
		copySamples(t, dir, "")
		copySamples(t, opDir, "operator-")
	}
}

// demoTenant gives tenant id the privacy facts and organisational measures of the demo.
func demoTenant(t *testing.T, data, id string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(data, "skjold.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	notice := `{"controller":"Fjord Reiser AS","contact":"personvern@fjordreiser.example","supervisory_authority":"Datatilsynet",
		"recipients":["Widerøe Flyveselskap AS (flights)","Hotels booked for the traveller"],"storage_location":"Bergen, Norway","language":"nb"}`
	stmts := []struct {
		q    string
		args []any
	}{
		{"INSERT INTO settings (tenant_id, name, value, updated_at) VALUES (?, 'privacy_notice', ?, 0)", []any{id, notice}},
		{`INSERT INTO compliance_measures (id, tenant_id, kind, description, taken_on, created_at) VALUES
			('m1', ?, 'training', 'Opplæring i personvern for alle ansatte (annual data-protection training)', '2026-11-20', 0),
			('m2', ?, 'agreements', 'Confidentiality agreements signed by all five employees', '2026-01-15', 0),
			('m3', ?, 'physical', 'Locked server room in Bergen; keys held by two people', '2026-03-02', 0),
			('m4', '', 'incident_response', 'Incident response rehearsal with the on-call team', '2026-10-08', 0)`, []any{id, id, id}},
	}
	for _, s := range stmts {
		if _, err := db.Exec(s.q, s.args...); err != nil {
			t.Fatal(err)
		}
	}
}

func copySamples(t *testing.T, from, prefix string) {
	t.Helper()
	samples := filepath.Join("..", "..", "docs", "samples")
	if err := os.MkdirAll(samples, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(samples, prefix+e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// poppler returns the path of a poppler-utils program, or skips where it is missing outside CI
// (.ci/run installs it).
func poppler(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: .ci/run installs poppler-utils", name)
		}
		t.Skipf("%s not installed (apt-get install poppler-utils)", name)
	}
	return p
}

func inkedPixels(t *testing.T, path string) (n, total int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(fmt.Errorf("%s: %w", path, err))
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			total++
			if r < 0xe000 || g < 0xe000 || bl < 0xe000 {
				n++
			}
		}
	}
	return n, total
}
