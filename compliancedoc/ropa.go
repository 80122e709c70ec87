package compliancedoc

import (
	"strings"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/document"
)

// ropaController is the tenant's record of processing activities under Art. 30(1).
func (g *gen) ropaController() []document.Section {
	f, n := g.f, g.f.Notice
	if n == nil {
		n = &skjold.PrivacyNotice{}
	}
	controller := document.Table{Columns: []string{g.t("col.item"), g.t("col.value")}, Rows: [][]string{
		{g.t("ropa.controller.name"), orDash(firstOf(n.Controller, f.Name))},
		{g.t("ropa.controller.contact"), orDash(n.Contact)},
		{g.t("ropa.controller.authority"), orDash(n.SupervisoryAuthority)},
		{g.t("ropa.controller.processor"), g.t("ropa.controller.processor_value", "engine", f.Engine)},
	}}
	purposes := &document.Table{Columns: []string{g.t("col.purpose"), g.t("col.legal_basis"), g.t("col.description")}}
	for _, p := range f.Purposes {
		purposes.Rows = append(purposes.Rows, []string{p.Name, g.basis(p.LegalBasis), orDash(p.Description)})
	}
	cats := &document.Table{Columns: []string{g.t("col.category"), g.t("col.fields"), g.t("col.purposes"), g.t("col.legal_basis")}}
	retention := &document.Table{Columns: []string{g.t("col.category"), g.t("col.period"), g.t("col.from")}}
	for _, c := range f.Categories {
		var fields []string
		for _, fl := range c.Fields {
			fields = append(fields, fl.Name)
		}
		cats.Rows = append(cats.Rows, []string{c.Name, strings.Join(fields, ", "), g.list(c.Purposes), g.basis(c.LegalBasis)})
		period := c.Retention.Period
		if _, err := skjold.ParsePeriod(period); err != nil {
			period = g.t("ropa.retention.none")
		}
		retention.Rows = append(retention.Rows, []string{c.Name, period, orDash(c.Retention.From)})
	}
	recipients := append([]string{}, n.Recipients...)
	recipients = append(recipients, g.t("ropa.recipients.processor"))
	return []document.Section{
		{Heading: g.t("ropa.controller.heading"), Table: &controller},
		{Heading: g.t("ropa.purposes.heading"), Paragraphs: g.emptyNote(len(f.Purposes)), Table: tableOrNil(purposes)},
		{Heading: g.t("ropa.subjects.heading"), Paragraphs: []string{g.t("ropa.subjects.text", "n", f.Subjects)},
			Sections: []document.Section{{Heading: g.t("ropa.categories.heading"), Paragraphs: g.emptyNote(len(f.Categories)), Table: tableOrNil(cats)}}},
		{Heading: g.t("ropa.recipients.heading"), Paragraphs: []string{g.list(recipients)},
			Sections: []document.Section{{Heading: g.t("ropa.subprocessors.heading"), Table: g.subProcessors()}}},
		{Heading: g.t("ropa.transfers.heading"), Paragraphs: []string{g.t("ropa.transfers.text", "location", orDash(n.StorageLocation))}},
		{Heading: g.t("ropa.retention.heading"), Paragraphs: g.emptyNote(len(f.Categories)), Table: tableOrNil(retention)},
		{Heading: g.t("ropa.measures.heading"), Paragraphs: []string{g.t("ropa.measures.text"), g.checkSummary()}},
	}
}

// ropaProcessor is the operator's record as processor under Art. 30(2): the controllers it
// processes for, the categories of processing, transfers and measures.
func (g *gen) ropaProcessor() []document.Section {
	f := g.f
	tenants := &document.Table{Columns: []string{g.t("col.controller"), g.t("col.id"), g.t("col.status"), g.t("col.since")}}
	for _, t := range f.Tenants {
		tenants.Rows = append(tenants.Rows, []string{t.Name, t.ID, g.t("tenant_status." + t.Status), g.cat.Date(t.CreatedAt)})
	}
	return []document.Section{
		{Heading: g.t("ropa.processor.heading"), Paragraphs: []string{g.t("ropa.processor.text", "engine", f.Engine)}},
		{Heading: g.t("ropa.controllers.heading"), Paragraphs: g.emptyNote(len(f.Tenants)), Table: tableOrNil(tenants)},
		{Heading: g.t("ropa.processing.heading"), Paragraphs: []string{g.t("ropa.processing.text")}},
		{Heading: g.t("ropa.transfers.heading"), Paragraphs: []string{g.t("ropa.transfers.processor")}, Table: g.subProcessors()},
		{Heading: g.t("ropa.measures.heading"), Paragraphs: []string{g.t("ropa.measures.text"), g.checkSummary()}},
	}
}

func (g *gen) emptyNote(n int) []string {
	if n == 0 {
		return []string{g.t("none_recorded")}
	}
	return nil
}

func tableOrNil(t *document.Table) *document.Table {
	if len(t.Rows) == 0 {
		return nil
	}
	return t
}

func firstOf(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return x
		}
	}
	return ""
}

// basis names a legal basis in the catalogue's language, as the console's purpose register
// does; an unknown one is shown as stored.
func (g *gen) basis(b string) string {
	if k := "purposes.basis_" + b; b != "" && g.cat.Has(k) {
		return g.cat.T(k)
	}
	return orDash(b)
}
