package compliancedoc

import (
	"strings"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/document"
)

// toms is the TOMs document [G4]: each technical measure as it is enforced now, with the
// live check behind it; the measures the code always enforces; the organisational measures
// recorded, with their dates.
func (g *gen) toms() []document.Section {
	checked := g.f.CheckedAt.UTC().Format("2006-01-02 15:04 UTC")
	intro := []string{g.t("toms.intro", "checked", checked), g.checkSummary()}
	t := &document.Table{Columns: []string{g.t("col.requirement"), g.t("col.measure"), g.t("col.status"), g.t("col.evidence")}}
	for _, ch := range g.f.Checks.Checks {
		t.Rows = append(t.Rows, []string{ch.Requirement, g.measure(ch), g.status(ch.Status), g.evidence(ch)})
	}
	set := g.f.Settings
	access := []string{
		g.t("toms.always.encryption"), g.t("toms.always.blind_index"), g.t("toms.always.https"),
		g.t("toms.always.audit"), g.t("toms.always.guard"),
		g.t("toms.always.session", "hours", set.SessionHours),
	}
	if len(set.AllowedNetworks) > 0 {
		access = append(access, g.t("toms.always.networks", "networks", strings.Join(set.AllowedNetworks, ", ")))
	} else {
		access = append(access, g.t("toms.always.networks_any"))
	}
	if len(set.FourEyes) > 0 {
		access = append(access, g.t("toms.always.four_eyes", "actions", strings.Join(set.FourEyes, ", ")))
	}
	if !g.f.Operator {
		access = append(access, g.t("toms.always.support", "hours", set.SupportMaxHours))
	}
	org := document.Section{Heading: g.t("toms.org.heading")}
	if len(g.f.Measures) == 0 {
		org.Paragraphs = []string{g.t("toms.org.none")}
	} else {
		ot := &document.Table{Columns: []string{g.t("col.kind"), g.t("col.measure"), g.t("col.date")}}
		for _, m := range g.f.Measures {
			ot.Rows = append(ot.Rows, []string{g.t("kind." + m.Kind), m.Description, g.date(m.Date)})
		}
		org.Paragraphs, org.Table = []string{g.t("toms.org.intro")}, ot
	}
	return []document.Section{
		{Heading: g.t("toms.scope.heading"), Paragraphs: intro},
		{Heading: g.t("toms.checked.heading"), Paragraphs: []string{g.t("toms.checked.intro")}, Table: t},
		{Heading: g.t("toms.always.heading"), Paragraphs: access},
		org,
	}
}

// measure states what check ch holds the software to, with the numbers in force.
func (g *gen) measure(ch skjold.ComplianceCheck) string {
	p, set := g.f.Checks.Profile, g.f.Settings
	switch ch.Check {
	case "backup_times":
		return g.t("measure.backup_times", "times", g.list(p.BackupTimes), "zone", p.BackupZone)
	case "daily_copies":
		return g.t("measure.daily_copies", "n", p.DailyCopies)
	case "password_policy":
		return g.t("measure.password_policy", "min", set.Password.MinLength, "classes", set.Password.Classes,
			"history", set.Password.History)
	case "idle_lock":
		return g.t("measure.idle_lock", "idle", set.IdleMinutes, "promised", p.MaxIdleMinutes)
	}
	return g.t("measure." + ch.Check)
}

// evidence is ch's evidence in the catalogue's language, a line per item; a check without
// keyed evidence (built elsewhere than skjold.CheckCompliance) keeps its English lines.
func (g *gen) evidence(ch skjold.ComplianceCheck) string {
	if len(ch.Details) == 0 {
		return strings.Join(ch.Evidence, "\n")
	}
	lines := make([]string, len(ch.Details))
	for i, e := range ch.Details {
		lines[i] = e.Render(g.cat.T)
	}
	return strings.Join(lines, "\n")
}
