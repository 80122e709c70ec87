package document_test

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold/document"
)

func sample() *document.Document {
	d := &document.Document{
		Kind: "ropa", Title: "Rejestr czynności przetwarzania", Subtitle: "Zażółć gęślą jaźń — Bjørnøya Ærlig Å",
		Language: "pl", GeneratedAt: time.Date(2026, 12, 6, 4, 20, 0, 0, time.UTC),
		Footer: "Wygenerowano 2026-12-06 04:20 UTC z wersji danych 3f2a00c0ffee",
	}
	long := strings.Repeat("Kategoria danych osobowych przetwarzana w celu realizacji umowy ", 4)
	t := &document.Table{Columns: []string{"Cel", "Podstawa prawna", "Okres przechowywania"}}
	for i := range 80 {
		t.Rows = append(t.Rows, []string{fmt.Sprintf("cel_%02d", i), long, "P5Y od utworzenia"})
	}
	d.Sections = []document.Section{
		{Heading: "Administrator", Paragraphs: []string{"Søknadsbehandling på Tromsø kontor; łódź, źródło, ćma, ńkę."}},
		{Heading: "Cele przetwarzania", Table: t, Sections: []document.Section{
			{Heading: "Odbiorcy", Paragraphs: []string{strings.Repeat("Dostawca poczty elektronicznej w Norwegii. ", 30)}},
		}},
	}
	return d
}

// poppler returns the path of a poppler-utils program, or skips where it is not installed
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

func render(t *testing.T, d *document.Document) string {
	t.Helper()
	var buf bytes.Buffer
	if err := document.WritePDF(&buf, d); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), d.Kind+".pdf")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// PDFText returns the text pdftotext reads from the PDF at path, pages separated by form feeds.
func pdfText(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command(poppler(t, "pdftotext"), "-layout", "-enc", "UTF-8", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

func TestWritePDFText(t *testing.T) {
	d := sample()
	text := pdfText(t, render(t, d))
	pages := strings.Split(strings.TrimRight(text, "\f"), "\f")
	if len(pages) < 3 {
		t.Fatalf("80 long table rows fit on %d pages; want at least 3", len(pages))
	}
	flat := strings.Join(strings.Fields(text), " ")
	for _, want := range []string{
		"Rejestr czynności przetwarzania", "Zażółć gęślą jaźń", "Bjørnøya Ærlig Å", "1 Administrator",
		"Søknadsbehandling på Tromsø kontor; łódź, źródło, ćma, ńkę.", "2 Cele przetwarzania", "2.1 Odbiorcy",
		"cel_00", "cel_79",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("the PDF text lacks %q", want)
		}
	}
	for i, pg := range pages {
		n := i + 1
		if !regexp.MustCompile(fmt.Sprintf(`(?m)\b%d\s*/\s*%d\s*$`, n, len(pages))).MatchString(pg) {
			t.Errorf("page %d lacks its number %d / %d", n, n, len(pages))
		}
		if !strings.Contains(strings.Join(strings.Fields(pg), " "), "Wygenerowano 2026-12-06 04:20 UTC z wersji danych 3f2a00c0ffee") {
			t.Errorf("page %d lacks the footer", n)
		}
	}
	// The table runs over several pages: each page holding rows repeats the header.
	for i, pg := range pages {
		if strings.Contains(pg, "cel_") && !strings.Contains(pg, "Podstawa prawna") {
			t.Errorf("page %d holds table rows without the header row", i+1)
		}
	}
	// No row is lost or split into two.
	for i := range 80 {
		if c := strings.Count(text, fmt.Sprintf("cel_%02d ", i)); c != 1 {
			t.Errorf("row cel_%02d appears %d times", i, c)
		}
	}
}

func TestWritePDFPageNotBlank(t *testing.T) {
	path := render(t, sample())
	prefix := filepath.Join(t.TempDir(), "page")
	if out, err := exec.Command(poppler(t, "pdftoppm"), "-png", "-r", "50", "-f", "1", "-l", "1", "-singlefile", path, prefix).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	f, err := os.Open(prefix + ".png")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if n, total := inked(img); n < total/100 {
		t.Fatalf("page 1 has %d non-white pixels of %d: it looks blank", n, total)
	}
}

func inked(img image.Image) (n, total int) {
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

func TestWritePDFEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := document.WritePDF(&buf, &document.Document{Kind: "x", Title: "Tom"}); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", buf.Bytes()[:min(8, buf.Len())])
	}
}
