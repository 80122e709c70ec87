package i18n

import (
	"strings"
	"testing"
	"time"
)

func bundle(t *testing.T) *Bundle {
	t.Helper()
	b, err := New(time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCataloguesComplete fails on any key that a language lacks, or has beyond English, and
// on placeholders that differ from the English message's.
func TestCataloguesComplete(t *testing.T) {
	b := bundle(t)
	for _, p := range b.Problems() {
		t.Error(p)
	}
	if n := len(b.Keys()); n < 100 {
		t.Errorf("only %d keys in the English catalogue", n)
	}
}

// TestProblemsFindsMissingKeys checks that the completeness check catches a missing key and
// a wrong placeholder.
func TestProblemsFindsMissingKeys(t *testing.T) {
	b := bundle(t)
	delete(b.cats["pl"].msgs, "login.title")
	b.cats["nb"].msgs["dashboard.welcome"] = "Velkommen, {navn}."
	got := strings.Join(b.Problems(), "\n")
	for _, want := range []string{"pl: missing key login.title", "nb: dashboard.welcome has placeholders [navn]"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems do not report %q:\n%s", want, got)
		}
	}
}

func TestMatchAcceptLanguage(t *testing.T) {
	b := bundle(t)
	for _, c := range []struct{ header, want string }{
		{"", "en"},
		{"nb-NO,nb;q=0.9,en;q=0.8", "nb"},
		{"no", "nb"},
		{"nn-NO", "nb"},
		{"pl-PL,pl;q=0.9", "pl"},
		{"de-DE,pl;q=0.5", "pl"},
		{"de-DE", "en"},
		{"en-GB,en;q=0.9", "en"},
		{"garbage;;;q=x", "en"},
	} {
		if got := b.Match(c.header); got != c.want {
			t.Errorf("Match(%q) = %q, want %q", c.header, got, c.want)
		}
	}
}

func TestFormats(t *testing.T) {
	b := bundle(t)
	at := time.Date(2026, 12, 5, 7, 6, 0, 0, time.UTC)
	for _, c := range []struct{ lang, date, datetime, number string }{
		{"en", "5 December 2026", "5 December 2026, 07:06", "12,345.5"},
		{"nb", "5. desember 2026", "5. desember 2026 kl. 07:06", "12\u00a0345,5"},
		{"pl", "5 grudnia 2026", "5 grudnia 2026, 07:06", "12\u00a0345,5"},
	} {
		cat := b.Get(c.lang)
		if got := cat.Date(at); got != c.date {
			t.Errorf("%s: Date = %q, want %q", c.lang, got, c.date)
		}
		if got := cat.DateTime(at); got != c.datetime {
			t.Errorf("%s: DateTime = %q, want %q", c.lang, got, c.datetime)
		}
		if got := cat.Number(12345.5); got != c.number {
			t.Errorf("%s: Number = %q, want %q", c.lang, got, c.number)
		}
	}
}

func TestMessages(t *testing.T) {
	b := bundle(t)
	if got := b.Get("nb").T("dashboard.welcome", "name", "Kari"); got != "Velkommen, Kari." {
		t.Errorf("placeholder: %q", got)
	}
	if got := b.Get("pl").T("policy.length", "min", 12); got != "Co najmniej 12 znaków." {
		t.Errorf("number placeholder: %q", got)
	}
	if got := b.Get("en").T("no.such.key"); got != "[[no.such.key]]" {
		t.Errorf("missing key shows as %q", got)
	}
	if b.Get("xx").Lang() != "en" {
		t.Error("an unknown language does not fall back to English")
	}
}
