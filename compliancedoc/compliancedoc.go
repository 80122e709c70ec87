// Package compliancedoc writes the technical and organisational measures [G4] and the records
// of processing activities [G3] from live facts (skjold.DocumentFacts) as document.Documents,
// in the language of a catalogue. Every number in them comes from the settings and checks in
// force; nothing is boilerplate that could drift from what the software enforces.
package compliancedoc

import (
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/document"
	"github.com/skjold-project/skjold/i18n"
)

// Generate writes the document of kind (skjold.DocTOMs or skjold.DocRoPA) from f, dated now.
func Generate(kind string, cat *i18n.Catalogue, f *skjold.DocumentFacts, now time.Time) (*document.Document, error) {
	version, err := document.DataVersion(stable(f))
	if err != nil {
		return nil, err
	}
	g := &gen{cat: cat, f: f}
	d := &document.Document{Kind: kind, Language: cat.Lang(), GeneratedAt: now.UTC(), Subtitle: g.who()}
	switch kind {
	case skjold.DocTOMs:
		d.Title, d.Sections = g.t("toms.title"), g.toms()
	case skjold.DocRoPA:
		if f.Operator {
			d.Title, d.Sections = g.t("ropa.title_processor"), g.ropaProcessor()
		} else {
			d.Title, d.Sections = g.t("ropa.title_controller"), g.ropaController()
		}
	default:
		return nil, skjold.FieldError("kind", "enum", "kind must be one of %s", strings.Join(skjold.DocumentKinds, ", "))
	}
	d.Footer = g.t("footer", "time", now.UTC().Format("2006-01-02 15:04 UTC"), "version", version)
	return d, nil
}

// stable is the part of f a document's data version covers: everything but the evidence of
// the checks, which names the time it was taken and so changes on every run.
func stable(f *skjold.DocumentFacts) any {
	c := *f
	c.Checks.Checks, c.CheckedAt = nil, time.Time{}
	type outcome struct{ Check, Status string }
	var out []outcome
	for _, ch := range f.Checks.Checks {
		out = append(out, outcome{ch.Check, ch.Status})
	}
	return struct {
		Facts    skjold.DocumentFacts
		Outcomes []outcome
	}{c, out}
}

type gen struct {
	cat *i18n.Catalogue
	f   *skjold.DocumentFacts
}

// t looks up a key of the [compliance_docs] table.
func (g *gen) t(key string, args ...any) string { return g.cat.T("compliance_docs."+key, args...) }

// who names the scope: the tenant, or the operator as processor.
func (g *gen) who() string {
	if g.f.Operator {
		return g.t("operator")
	}
	return g.f.Name
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

func (g *gen) list(items []string) string {
	if len(items) == 0 {
		return g.t("none")
	}
	return strings.Join(items, ", ")
}

// date renders a YYYY-MM-DD date the catalogue's way.
func (g *gen) date(s string) string {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return s
	}
	return g.cat.Date(t)
}

// subProcessorRows is the table of the installation's sub-processors.
func (g *gen) subProcessors() *document.Table {
	t := &document.Table{Columns: []string{g.t("col.name"), g.t("col.service"), g.t("col.location")}}
	for _, sp := range g.f.SubProcessors {
		t.Rows = append(t.Rows, []string{sp.Name, g.t("service." + sp.Service), sp.Location})
	}
	return t
}

// checkSummary counts the checks by outcome.
func (g *gen) checkSummary() string {
	n := map[string]int{}
	for _, ch := range g.f.Checks.Checks {
		n[ch.Status]++
	}
	return g.t("checks_summary", "pass", n[skjold.CheckPass], "fail", n[skjold.CheckFail], "na", n[skjold.CheckNotConfigured])
}

func (g *gen) status(s string) string { return g.t("status." + s) }
