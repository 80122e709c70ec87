package compliancedoc

import (
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/document"
	"github.com/skjold-project/skjold/i18n"
)

var evidenceNow = time.Date(2026, 12, 6, 20, 30, 0, 0, time.UTC)

// evidenceCases drives skjold.CheckCompliance through its passing, failing and
// not-configured outcomes, the way the store's conformance tests break each promise.
func evidenceCases() map[string][]skjold.ComplianceCheck {
	now := evidenceNow
	p := skjold.DefaultComplianceProfile()
	p.BackupZone = "UTC"
	var runs []*skjold.BackupRun
	for i := range 10 * 48 { // a backup every half hour for ten days, newest first
		at := now.Add(-time.Duration(i) * 30 * time.Minute)
		runs = append(runs, &skjold.BackupRun{Slot: "backup@" + at.Format("15:04"), Kind: skjold.RunBackup, Status: skjold.RunOK,
			StartedAt: at, FinishedAt: at.Add(time.Minute), ManifestID: "m1"})
	}
	offsite := &skjold.BackupRun{Slot: "offsite@14:00", Kind: skjold.RunOffsite, Status: skjold.RunOK, StartedAt: now.Add(-6 * time.Hour),
		FinishedAt: now.Add(-5 * time.Hour), ManifestID: "m2"}
	drill := &skjold.BackupRun{Slot: "drill@03:00", Kind: skjold.RunDrill, Status: skjold.RunOK, StartedAt: now.Add(-17 * time.Hour),
		FinishedAt: now.Add(-16 * time.Hour)}
	hosts := []skjold.ProcessorHost{{Role: "smtp_relay", Host: "smtp.example.net"}}
	allRoles := []skjold.ProcessorHost{{Role: "smtp_relay", Host: "smtp.example.net"}, {Role: "sms_gateway", Host: "sms.example.net"},
		{Role: "backup_s3", Host: "s3.example.net"}, {Role: "backup_sftp", Host: "sftp.example.net"}}
	pass := &skjold.ComplianceFacts{Now: now, Runs: append([]*skjold.BackupRun{offsite, drill}, runs...),
		Settings:  skjold.SessionSettings{Password: skjold.PasswordPolicy{MinLength: 14, Classes: 3}, IdleMinutes: 10},
		LastSweep: now.Add(-time.Hour), Chain: &skjold.ChainReport{Length: 987, Head: []byte{0xab, 0xcd}},
		DPAVersion: "v3", DPAAccepted: &skjold.DPAAcceptance{Version: "v3", Method: "scan", UserID: "u1", AcceptedAt: now.Add(-48 * time.Hour),
			ScanSHA256: "00ff"}, ProcessorHosts: hosts}
	failedDrill := &skjold.BackupRun{Slot: "drill@03:00", Kind: skjold.RunDrill, Status: skjold.RunFailed, StartedAt: now.Add(-17 * time.Hour),
		FinishedAt: now.Add(-16 * time.Hour)}
	fail := &skjold.ComplianceFacts{Now: now, Runs: []*skjold.BackupRun{failedDrill},
		Settings:               skjold.SessionSettings{Password: skjold.PasswordPolicy{MinLength: 8}, IdleMinutes: 60},
		AdminsWithoutTwoFactor: []string{"u2"}, PastEndUnsuspended: []string{"u3"}, TrainingOverdue: []string{"u4"},
		CategoriesNoRetention: []string{"c1"}, ChainError: "event 7: hash mismatch", DPAVersion: "v3",
		ProcessorHosts: allRoles, UncoveredHosts: allRoles}
	older := *fail
	older.Runs, older.DPAAccepted = nil, &skjold.DPAAcceptance{Version: "v2", Method: "console", UserID: "u1", AcceptedAt: now.Add(-time.Hour)}
	return map[string][]skjold.ComplianceCheck{
		"pass":           skjold.CheckCompliance(p, pass),
		"fail":           skjold.CheckCompliance(p, fail),
		"older":          skjold.CheckCompliance(p, &older),
		"not_configured": skjold.CheckCompliance(skjold.ComplianceProfile{BackupZone: "UTC"}, &skjold.ComplianceFacts{Now: now}),
	}
}

func TestComplianceEvidenceKeysInEveryCatalogue(t *testing.T) {
	b, err := i18n.New(time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	statuses := map[string]bool{}
	for name, checks := range evidenceCases() {
		for _, ch := range checks {
			statuses[ch.Status] = true
			if len(ch.Details) != len(ch.Evidence) {
				t.Fatalf("%s/%s: %d keyed lines for %d English lines", name, ch.Check, len(ch.Details), len(ch.Evidence))
			}
			for i, e := range ch.Details {
				if e.Text != ch.Evidence[i] {
					t.Errorf("%s/%s: line %d keyed %q, English %q", name, ch.Check, i, e.Text, ch.Evidence[i])
				}
				keys[e.Key] = true
				for _, v := range e.Args {
					if term, ok := v.(skjold.EvidenceTerm); ok {
						keys["compliance.ev.term."+string(term)] = true
					}
				}
			}
		}
	}
	for _, s := range []string{skjold.CheckPass, skjold.CheckFail, skjold.CheckNotConfigured} {
		if !statuses[s] {
			t.Errorf("no check came out %s: the cases do not cover it", s)
		}
	}
	if len(keys) < 40 {
		t.Errorf("only %d distinct evidence keys collected; the cases miss some branches", len(keys))
	}
	// The English catalogue says what the API says; only times are written the catalogue's way.
	en := b.Get("en")
	for _, checks := range evidenceCases() {
		for _, ch := range checks {
			for _, e := range ch.Details {
				timed := false
				for _, v := range e.Args {
					_, isTime := v.(time.Time)
					_, isTerm := v.(skjold.EvidenceTerm)
					timed = timed || isTime || isTerm
				}
				if got := en.T(e.Key, e.Pairs()...); !timed && got != e.Text {
					t.Errorf("%s: the English catalogue says %q, the API %q", e.Key, got, e.Text)
				}
			}
		}
	}
	for _, lang := range i18n.Languages {
		cat := b.Get(lang)
		for k := range keys {
			if !cat.Has(k) {
				t.Errorf("%s: evidence key %s is missing", lang, k)
			}
		}
	}
	// Every key the catalogues hold for evidence is one the checks produce, so none is dead.
	for _, k := range b.Keys() {
		if strings.HasPrefix(k, "compliance.ev.") && !keys[k] {
			t.Errorf("catalogue key %s is never produced by a check", k)
		}
	}
}

func documentText(d *document.Document) string {
	var sb strings.Builder
	for _, s := range d.Sections {
		sb.WriteString(s.Heading + "\n" + strings.Join(s.Paragraphs, "\n") + "\n")
		if s.Table != nil {
			for _, r := range s.Table.Rows {
				sb.WriteString(strings.Join(r, "\n") + "\n")
			}
		}
	}
	return sb.String()
}

func TestNorwegianTOMsHaveNoEnglishEvidence(t *testing.T) {
	b, err := i18n.New(time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	cases := evidenceCases()
	for _, name := range []string{"pass", "fail"} {
		f := &skjold.DocumentFacts{Name: "Asysto", CheckedAt: evidenceNow,
			Checks: skjold.ComplianceScope{Scope: "t1", Profile: skjold.DefaultComplianceProfile(), Checks: cases[name]}}
		english := []string{"days with a backup", "no successful off-site copy", "audit chain", "last retention sweep"}
		en, err := Generate(skjold.DocTOMs, b.Get("en"), f, evidenceNow)
		if err != nil {
			t.Fatal(err)
		}
		nb, err := Generate(skjold.DocTOMs, b.Get("nb"), f, evidenceNow)
		if err != nil {
			t.Fatal(err)
		}
		enText, nbText := documentText(en), documentText(nb)
		found := 0
		for _, phrase := range english {
			if strings.Contains(enText, phrase) {
				found++
			}
			if strings.Contains(nbText, phrase) {
				t.Errorf("%s: the Norwegian TOMs carry the English evidence %q", name, phrase)
			}
		}
		if found < 2 {
			t.Errorf("%s: the English TOMs show only %d of the phrases; the test would prove nothing", name, found)
		}
		want := map[string]string{"pass": "dager med sikkerhetskopi: 7 av 7", "fail": "SFTP-mål for sikkerhetskopi sftp.example.net: står ikke på noen oppføring"}[name]
		if !strings.Contains(nbText, want) {
			t.Errorf("%s: the Norwegian TOMs lack %q:\n%s", name, want, nbText)
		}
		if strings.Contains(nbText, "[[") {
			t.Errorf("%s: a key is missing from the Norwegian catalogue:\n%s", name, nbText)
		}
	}
}
