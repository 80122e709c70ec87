package export

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

const timeFormat = time.RFC3339

// notStated stands in for a fact the controller has not given.
const notStated = "not stated by the controller"

// bases explains each legal basis with its GDPR article.
var bases = map[string]string{
	skjold.BasisConsent:            "your consent (GDPR Art. 6(1)(a))",
	skjold.BasisContract:           "a contract with you (GDPR Art. 6(1)(b))",
	skjold.BasisLegalObligation:    "a legal obligation of the controller (GDPR Art. 6(1)(c))",
	skjold.BasisVitalInterest:      "protecting someone's vital interests (GDPR Art. 6(1)(d))",
	skjold.BasisPublicTask:         "a task in the public interest (GDPR Art. 6(1)(e))",
	skjold.BasisLegitimateInterest: "the controller's legitimate interests (GDPR Art. 6(1)(f))",
}

// rights lists the subject's rights, in the order of the regulation.
var rights = []string{
	"Access (Art. 15): to get a copy of your data and to know how it is used. This package is that copy.",
	"Rectification (Art. 16): to have wrong or incomplete data corrected.",
	"Erasure (Art. 17): to have your data erased where there is no reason to keep it; data the law obliges the controller to keep is kept until its period ends.",
	"Restriction (Art. 18): to have the use of your data limited while, for instance, its accuracy is checked.",
	"Portability (Art. 20): to receive the data you provided in a machine-readable form (data.json, the CSV files, data.xlsx) and to have it passed to another controller.",
	"Objection (Art. 21): to object to processing based on legitimate interests, and at any time to direct marketing.",
	"Withdrawal of consent (Art. 7(3)): to withdraw consent at any time, without affecting what was done before.",
}

func stated(s string) string {
	if strings.TrimSpace(s) == "" {
		return notStated
	}
	return s
}

func basis(b string) string {
	if s, ok := bases[b]; ok {
		return s
	}
	return stated(b)
}

// humanPeriod spells out an ISO 8601 period such as P5Y2M10D.
func humanPeriod(iso string) string {
	p, err := skjold.ParsePeriod(iso)
	if err != nil {
		return stated(iso)
	}
	var parts []string
	for _, u := range []struct {
		n    int
		unit string
	}{{p.Years, "year"}, {p.Months, "month"}, {p.Days, "day"}} {
		if u.n == 1 {
			parts = append(parts, "1 "+u.unit)
		} else if u.n > 1 {
			parts = append(parts, fmt.Sprintf("%d %ss", u.n, u.unit))
		}
	}
	return strings.Join(parts, " ")
}

func retentionFrom(r skjold.Retention) string {
	switch {
	case r.From == skjold.RetentionFromCreated:
		return "from when the record was made"
	case r.From == skjold.RetentionFromRelationship:
		return "from the end of your customer relationship"
	case strings.HasPrefix(r.From, skjold.RetentionFromFieldPrefix):
		return "from the record's " + strings.TrimPrefix(r.From, skjold.RetentionFromFieldPrefix)
	}
	return stated(r.From)
}

// summary collects the text of summary.txt.
type summary struct {
	b strings.Builder
}

func (s *summary) line(format string, args ...any) { fmt.Fprintf(&s.b, format+"\n", args...) }

func (s *summary) section(title string) {
	s.line("\n%s\n%s", title, strings.Repeat("-", len(title)))
}

// writeSummary writes summary.txt: a readable account of who holds what, why, for how
// long and for whom, and what the subject can do about it.
func writeSummary(w io.Writer, d *skjold.SubjectData) error {
	n := d.Notice
	if n == nil {
		n = &skjold.PrivacyNotice{}
	}
	s := &summary{}
	s.line("Your personal data: a summary")
	s.line("Generated %s for subject %s.", d.Generated.UTC().Format(timeFormat), d.Subject.ID)
	s.section("Who holds your data")
	s.line("Controller: %s", stated(n.Controller))
	s.line("Contact: %s", stated(n.Contact))
	s.line("Stored in: %s", stated(n.StorageLocation))
	s.summarizeData(d)
	s.summarizePurposes(d)
	s.section("Who receives your data")
	if len(n.Recipients) == 0 {
		s.line("Recipients: %s", notStated)
	}
	for _, r := range n.Recipients {
		s.line("- %s", stated(r))
	}
	s.summarizeRetention(d)
	s.summarizeConsents(d)
	s.section("Your rights (GDPR Art. 15-21)")
	for _, r := range rights {
		s.line("- %s", r)
	}
	s.line("To use a right, contact the controller: %s.", stated(n.Contact))
	s.section("Complaints")
	s.line("You may complain to a supervisory authority (GDPR Art. 77): %s.", stated(n.SupervisoryAuthority))
	s.section("Files in this package")
	s.line("- data.json: everything held about you, in full")
	s.line("- schema.json: what each category and field means, its purposes, legal basis and retention")
	s.line("- csv/<category>.csv: one table per category")
	s.line("- data.xlsx: the same tables as a workbook, a sheet per category")
	_, err := io.WriteString(w, s.b.String())
	return err
}

func (s *summary) summarizeData(d *skjold.SubjectData) {
	s.section("What we hold about you")
	for _, c := range d.Categories {
		if c.Name == skjold.SubjectCategory {
			s.line("- your profile (%s)", strings.Join(fieldNames(c), ", "))
			continue
		}
		s.line("- %s: %d record(s)", c.Name, len(d.Records[c.Name]))
	}
	if d.Subject.Restricted {
		s.line("The processing of your data is restricted at your request.")
	}
	if d.Subject.Objected {
		s.line("You have objected to processing based on legitimate interests.")
	}
}

func fieldNames(c *skjold.Category) []string {
	names := make([]string, len(c.Fields))
	for i, f := range c.Fields {
		names[i] = f.Name
	}
	return names
}

func (s *summary) summarizePurposes(d *skjold.SubjectData) {
	s.section("Why we use it (purposes and legal bases)")
	for _, p := range d.Purposes {
		desc := ""
		if p.Description != "" {
			desc = ": " + p.Description
		}
		s.line("- %s%s. Legal basis: %s.", p.Name, desc, basis(p.LegalBasis))
	}
	for _, c := range d.Categories {
		s.line("- %s is used for %s. Legal basis: %s.", c.Name, strings.Join(c.Purposes, ", "), basis(c.LegalBasis))
	}
}

func (s *summary) summarizeRetention(d *skjold.SubjectData) {
	s.section("How long we keep it")
	for _, c := range d.Categories {
		s.line("- %s: %s %s (%s)", c.Name, humanPeriod(c.Retention.Period), retentionFrom(c.Retention), stated(c.Retention.Period))
	}
	for _, h := range d.Holds {
		if h.ReleasedAt != nil {
			continue
		}
		until := "until released"
		if h.Until != nil {
			until = "until " + h.Until.UTC().Format(time.DateOnly)
		}
		scope := "all categories"
		if h.Category != "" {
			scope = h.Category
		}
		s.line("- A legal hold keeps %s %s: %s", scope, until, stated(h.Reason))
	}
}

func (s *summary) summarizeConsents(d *skjold.SubjectData) {
	s.section("Your consents")
	if len(d.Consents) == 0 {
		s.line("No consent recorded.")
	}
	for _, c := range d.Consents {
		what := "withdrawn"
		if c.Granted {
			what = "granted"
		}
		s.line("- %s: %s on %s (source %s, notice version %d)", c.Purpose, what, c.CreatedAt.UTC().Format(timeFormat), c.Source, c.NoticeVersion)
	}
}
