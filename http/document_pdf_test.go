package http

import (
	"bytes"
	"html"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/document"
)

// pdfText returns the text pdftotext (poppler-utils, installed by .ci/run) reads from a PDF.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	tool, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatal("pdftotext (poppler-utils) is needed to read the PDFs back: apt-get install poppler-utils")
	}
	cmd := exec.Command(tool, "-raw", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// TestDocumentPDFs: the data processing agreement and the breach drafts come as PDFs too, and
// each PDF says what the JSON of the same document says, in its language.
func TestDocumentPDFs(t *testing.T) {
	e := newEnv(t)
	inc := e.incidentOf(t, e.a.id)
	for _, c := range []struct{ path, lang string }{
		{"/api/v1/dpa?lang=pl", "pl"},
		{"/api/v1/dpa?lang=nb", "nb"},
		{"/api/v1/incidents/" + inc + "/drafts/breach-authority?lang=nb", "nb"},
		{"/api/v1/incidents/" + inc + "/drafts/breach-subjects?lang=pl", "pl"},
	} {
		var doc struct {
			document.Document
			Inner *document.Document `json:"document"`
		}
		e.do(t, e.a.token, "GET", c.path, nil).want(t, 200).decode(t, &doc)
		d := &doc.Document
		if doc.Inner != nil { // the DPA's answer holds its status and the document
			d = doc.Inner
		}
		if d.Language != c.lang || len(d.Sections) == 0 {
			t.Fatalf("%s: a document in %q with %d sections", c.path, d.Language, len(d.Sections))
		}
		r := e.do(t, e.a.token, "GET", c.path+"&format=pdf", nil).want(t, 200)
		if r.header.Get("Content-Type") != "application/pdf" || !strings.Contains(r.header.Get("Content-Disposition"), d.Kind+"-"+c.lang+".pdf") {
			t.Fatalf("%s as PDF: %v", c.path, r.header)
		}
		text := strings.Join(strings.Fields(pdfText(t, r.body)), " ")
		for _, want := range []string{d.Title, d.Sections[0].Heading, d.Sections[len(d.Sections)-1].Heading} {
			if want = strings.Join(strings.Fields(want), " "); !strings.Contains(text, want) {
				t.Errorf("%s: the PDF does not say %q", c.path, want)
			}
		}
	}
	e.do(t, e.a.token, "GET", "/api/v1/dpa?format=docx", nil).wantError(t, 400, "invalid")
}

// TestDocumentPDFLinks: the console's agreement page links its PDF, and the link works with
// the console's own session.
func TestDocumentPDFLinks(t *testing.T) {
	e := newEnv(t)
	owner, _ := e.cfgAdmin(t, skjold.RoleOwner)
	page := owner.get(t, "/console/dpa").want(t, 200)
	link := regexp.MustCompile(`href="(/api/v1/dpa\?lang=(en|nb|pl)&amp;format=pdf)"`).FindSubmatch(page.body)
	if link == nil {
		t.Fatalf("the agreement page has no PDF link: %s", page.body)
	}
	pdf := owner.get(t, html.UnescapeString(string(link[1]))).want(t, 200)
	if !strings.HasPrefix(string(pdf.body), "%PDF-") {
		t.Fatalf("the PDF link with the console session: %v", pdf.header)
	}
}
