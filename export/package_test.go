package export

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/xuri/excelize/v2"
)

func subjectData(notice *skjold.PrivacyNotice) *skjold.SubjectData {
	until := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	return &skjold.SubjectData{
		Subject:    &skjold.Subject{ID: "s1", Name: "Åse Nordmann", Email: "ase@example.com", BirthDate: "1980-01-02", CreatedAt: created, Restricted: true},
		Categories: []*skjold.Category{profile, booking},
		Records: map[string][]*skjold.Record{booking.Name: {
			{ID: "r1", SubjectID: "s1", Category: booking.Name, CreatedAt: created,
				Data: map[string]any{"destination": "Tromsø", "travel_date": "2025-07-14", "price": json.Number("99.5"), "nights": json.Number("3"), "insured": true}},
		}},
		Consents:  []*skjold.Consent{{ID: "c1", SubjectID: "s1", Purpose: "newsletter", Granted: true, Source: skjold.SourceAPI, NoticeVersion: 2, Notice: "We write monthly.", CreatedAt: created}},
		Purposes:  []*skjold.Purpose{{Name: "newsletter", LegalBasis: skjold.BasisConsent, Description: "monthly news", NoticeVersion: 2}},
		Holds:     []*skjold.Hold{{ID: "h1", SubjectID: "s1", Category: booking.Name, Reason: "accounting law", Until: &until, CreatedAt: created}},
		Requests:  []*skjold.Request{{ID: "q1", SubjectID: "s1", Type: skjold.RequestAccess, Status: skjold.StatusInProgress, ReceivedAt: created, DueAt: created.AddDate(0, 1, 0)}},
		Notice:    notice,
		Generated: created,
	}
}

func TestAccessPackage(t *testing.T) {
	notice := &skjold.PrivacyNotice{Controller: "Fjord Reiser AS", Contact: "privacy@fjord.example",
		SupervisoryAuthority: "Datatilsynet", Recipients: []string{"Payment provider"}, StorageLocation: "EU (Norway)"}
	var buf bytes.Buffer
	if err := AccessPackage(&buf, subjectData(notice)); err != nil {
		t.Fatal(err)
	}
	files := unzip(t, buf.Bytes())
	for _, name := range []string{"data.json", "schema.json", "data.xlsx", "summary.txt", "csv/subject.csv", "csv/" + booking.Name + ".csv"} {
		if len(files[name]) == 0 {
			t.Errorf("the package has no %s", name)
		}
	}
	var data struct {
		Subject  skjold.Subject
		Records  map[string][]skjold.Record
		Consents []skjold.Consent
		Holds    []skjold.Hold
		Requests []skjold.Request
		Purposes []skjold.Purpose
	}
	if err := json.Unmarshal(files["data.json"], &data); err != nil {
		t.Fatal(err)
	}
	if data.Subject.Name != "Åse Nordmann" || len(data.Records[booking.Name]) != 1 || data.Records[booking.Name][0].Data["destination"] != "Tromsø" ||
		len(data.Consents) != 1 || data.Consents[0].Notice != "We write monthly." || len(data.Holds) != 1 || len(data.Requests) != 1 || len(data.Purposes) != 1 {
		t.Errorf("data.json = %s", files["data.json"])
	}
	var schema struct{ Categories []skjold.Category }
	if err := json.Unmarshal(files["schema.json"], &schema); err != nil || len(schema.Categories) != 2 ||
		schema.Categories[1].Retention.Period != "P5Y" || schema.Categories[1].Fields[1].Type != skjold.TypeDate {
		t.Errorf("schema.json = %s (%v)", files["schema.json"], err)
	}
	checkCSV(t, files["csv/"+booking.Name+".csv"], [][]string{header(booking),
		{"s1", "r1", "2025-03-01T09:30:15Z", "Tromsø", "2025-07-14", "", "99.5", "3", "true", "", ""}})
	f, err := excelize.OpenReader(bytes.NewReader(files["data.xlsx"]))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, _ := f.GetCellValue("subject", "G2"); got != "Åse Nordmann" {
		t.Errorf("data.xlsx subject!G2 = %q", got)
	}
	checkCell(t, f, booking.Name[:MaxSheetName], 5, 2, skjold.TypeDate, time.Date(2025, 7, 14, 0, 0, 0, 0, time.UTC))
	checkCell(t, f, booking.Name[:MaxSheetName], 8, 2, skjold.TypeInteger, int64(3))
	summary := string(files["summary.txt"])
	for _, want := range []string{"Fjord Reiser AS", "privacy@fjord.example", "Datatilsynet", "Payment provider", "EU (Norway)",
		"newsletter: monthly news. Legal basis: your consent", "5 years from the record's travel_date", "30 days from the end of your customer relationship",
		"Access (Art. 15)", "Rectification (Art. 16)", "Erasure (Art. 17)", "Restriction (Art. 18)", "Portability (Art. 20)",
		"Objection (Art. 21)", "Withdrawal of consent", "until 2030-01-01: accounting law", "restricted", "newsletter: granted"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary.txt does not say %q:\n%s", want, summary)
		}
	}
	if strings.Contains(summary, notStated) {
		t.Errorf("summary.txt says %q though every fact was stated:\n%s", notStated, summary)
	}
}

func TestAccessPackageWithoutNotice(t *testing.T) {
	var buf bytes.Buffer
	if err := AccessPackage(&buf, subjectData(nil)); err != nil {
		t.Fatal(err)
	}
	summary := string(unzip(t, buf.Bytes())["summary.txt"])
	for _, fact := range []string{"Controller", "Contact", "Stored in", "Recipients", "supervisory authority"} {
		if !strings.Contains(summary, fact+": "+notStated) && !strings.Contains(summary, fact+" (GDPR Art. 77): "+notStated) {
			t.Errorf("summary.txt does not say the %s is %s:\n%s", fact, notStated, summary)
		}
	}
}

func TestAccessPackageNeedsSubject(t *testing.T) {
	if err := AccessPackage(&bytes.Buffer{}, &skjold.SubjectData{}); err == nil {
		t.Error("AccessPackage without a subject succeeded")
	}
}
