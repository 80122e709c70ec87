package document

import (
	"strconv"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

// Breach notification drafts [F2]: the notification to the supervisory authority with what
// Art. 33(3) asks it to contain, and the information to the data subjects Art. 34(2) asks
// for, written from the breach register in one language.
const (
	BreachAuthority = "breach-authority"
	BreachSubjects  = "breach-subjects"
)

// BreachKinds are the draft kinds, in the order the console offers them.
var BreachKinds = []string{BreachAuthority, BreachSubjects}

// Translator looks a message up by key in one language's catalogue, with named arguments.
type Translator interface {
	T(key string, args ...any) string
	Lang() string
}

// Breach writes the draft of kind for inc with its timeline, in t's language, at now. It
// returns nil for an unknown kind. Times are stated in UTC.
func Breach(kind string, inc *skjold.Incident, timeline []*skjold.IncidentEntry, t Translator, now time.Time) (*Document, error) {
	version, err := DataVersion(struct {
		Incident *skjold.Incident
		Timeline []*skjold.IncidentEntry
	}{inc, timeline})
	if err != nil {
		return nil, err
	}
	d := &Document{Kind: kind, Language: t.Lang(), GeneratedAt: now.UTC(), Version: version, Subtitle: inc.Title,
		Footer: t.T("incident.draft.footer", "time", stamp(now), "version", version)}
	switch kind {
	case BreachAuthority:
		d.Title, d.Sections = t.T("incident.draft.authority_title"), authoritySections(inc, timeline, t)
	case BreachSubjects:
		d.Title, d.Sections = t.T("incident.draft.subjects_title"), subjectSections(inc, t)
	default:
		return nil, nil
	}
	return d, nil
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") + " UTC" }

// orNone returns s, or the catalogue's "not stated" when s is empty, so that a draft shows
// what is still to be written rather than hiding it.
func orNone(s string, t Translator) string {
	if strings.TrimSpace(s) == "" {
		return t.T("incident.draft.not_stated")
	}
	return s
}

func categories(inc *skjold.Incident, t Translator) string {
	if len(inc.Categories) == 0 {
		return t.T("incident.draft.not_stated")
	}
	return strings.Join(inc.Categories, ", ")
}

func authoritySections(inc *skjold.Incident, timeline []*skjold.IncidentEntry, t Translator) []Section {
	times := &Table{Columns: []string{t.T("incident.draft.col_what"), t.T("incident.draft.col_when")}, Rows: [][]string{
		{t.T("incident.draft.detected"), stamp(inc.DetectedAt)},
		{t.T("incident.draft.aware"), stamp(inc.AwareAt)},
		{t.T("incident.draft.deadline"), stamp(inc.Clock.Deadline)},
	}}
	nature := Section{Heading: t.T("incident.draft.nature"), Paragraphs: []string{inc.Description}, Table: times}
	if inc.Clock.Overdue && (inc.Decision == nil || inc.Decision.AuthorityNotifiedAt == nil ||
		inc.Decision.AuthorityNotifiedAt.After(inc.Clock.Deadline)) {
		nature.Paragraphs = append(nature.Paragraphs, t.T("incident.draft.late"))
	}
	counts := &Table{Columns: []string{t.T("incident.draft.col_what"), t.T("incident.draft.col_count")}, Rows: [][]string{
		{t.T("incident.draft.subjects_estimated"), strconv.Itoa(inc.Subjects)},
		{t.T("incident.draft.records_estimated"), strconv.Itoa(inc.Records)},
	}}
	if inc.ScopedSubjects != nil {
		counts.Rows = append(counts.Rows, []string{t.T("incident.draft.subjects_scoped"), strconv.Itoa(*inc.ScopedSubjects)})
	}
	secs := []Section{
		{Heading: t.T("incident.draft.contact"), Paragraphs: []string{orNone(inc.Contact, t)}},
		nature,
		{Heading: t.T("incident.draft.concerned"), Paragraphs: []string{t.T("incident.draft.categories", "list", categories(inc, t))}, Table: counts},
		{Heading: t.T("incident.draft.consequences"), Paragraphs: []string{orNone(inc.Consequences, t)}},
		{Heading: t.T("incident.draft.measures"), Paragraphs: []string{orNone(inc.Measures, t)}},
	}
	if inc.Decision != nil {
		secs = append(secs, Section{Heading: t.T("incident.draft.decision"), Paragraphs: []string{inc.Decision.Reason}})
	}
	if len(timeline) > 0 {
		tl := &Table{Columns: []string{t.T("incident.draft.col_when"), t.T("incident.draft.col_action"), t.T("incident.draft.col_note")}}
		for _, e := range timeline {
			tl.Rows = append(tl.Rows, []string{stamp(e.Time), t.T("incident.kind." + e.Kind), e.Text})
		}
		secs = append(secs, Section{Heading: t.T("incident.draft.timeline"), Table: tl})
	}
	return secs
}

func subjectSections(inc *skjold.Incident, t Translator) []Section {
	return []Section{
		{Heading: t.T("incident.draft.s_what"), Paragraphs: []string{inc.Description,
			t.T("incident.draft.s_when", "detected", stamp(inc.DetectedAt))}},
		{Heading: t.T("incident.draft.s_data"), Paragraphs: []string{t.T("incident.draft.categories", "list", categories(inc, t))}},
		{Heading: t.T("incident.draft.s_consequences"), Paragraphs: []string{orNone(inc.Consequences, t)}},
		{Heading: t.T("incident.draft.s_measures"), Paragraphs: []string{orNone(inc.Measures, t), t.T("incident.draft.s_advice")}},
		{Heading: t.T("incident.draft.s_contact"), Paragraphs: []string{orNone(inc.Contact, t)}},
	}
}
