// Package document is the shape of the compliance documents Skjold writes from its own state
// (technical and organisational measures, records of processing, data processing agreements,
// breach notifications): a title, the time it was generated, the version of the data it came
// from, and sections of paragraphs and tables. The same value is rendered as HTML in the
// console (web/templates/_document.html) and as a PDF, so the two can never say different things.
package document

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Document is one generated document in one language. Every string in it is already
// translated; renderers add nothing but layout.
type Document struct {
	Kind        string    `json:"kind"`         // e.g. "toms", "ropa", "dpa"; names files and routes
	Title       string    `json:"title"`        // in Language
	Subtitle    string    `json:"subtitle"`     // e.g. the controller's or processor's name
	Language    string    `json:"language"`     // en, nb or pl
	GeneratedAt time.Time `json:"generated_at"` // when it was written from live state
	Version     string    `json:"version"`      // the document's own version, e.g. a DPA version; may be empty
	Sections    []Section `json:"sections"`
	// Footer is one line printed at the foot of each page and at the end of the HTML: e.g.
	// "Generated 2026-12-06 04:20 UTC from data version 3f2a…". Renderers print it verbatim.
	Footer string `json:"footer"`
}

// Section is a numbered part of a document: a heading, paragraphs, an optional table, and
// subsections.
type Section struct {
	Heading    string    `json:"heading"`
	Paragraphs []string  `json:"paragraphs,omitempty"`
	Table      *Table    `json:"table,omitempty"`
	Sections   []Section `json:"sections,omitempty"`
}

// Table is a plain grid of text; the first row of a rendered table is Columns.
type Table struct {
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

// DataVersion fingerprints the facts a document was written from (any JSON-encodable value,
// e.g. the purposes, categories and settings read for it), so two documents generated from the
// same state carry the same version and a reader can tell when the state behind one changed.
// It is the first 12 hex digits of a SHA-256 over the JSON encoding.
func DataVersion(facts any) (string, error) {
	b, err := json.Marshal(facts)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12], nil
}

// Lines returns every piece of text of the document in reading order: title, subtitle, then
// each section's heading, paragraphs and table cells (column headings first), then the footer.
// Tests and plain-text views read a document through it.
func (d *Document) Lines() []string {
	out := []string{d.Title, d.Subtitle}
	var walk func([]Section)
	walk = func(ss []Section) {
		for _, s := range ss {
			out = append(out, s.Heading)
			out = append(out, s.Paragraphs...)
			if s.Table != nil {
				out = append(out, s.Table.Columns...)
				for _, r := range s.Table.Rows {
					out = append(out, r...)
				}
			}
			walk(s.Sections)
		}
	}
	walk(d.Sections)
	return append(out, d.Footer)
}
