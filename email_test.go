package skjold

import (
	"testing"
)

func TestValidEmail(t *testing.T) {
	for _, c := range []struct {
		addr string
		ok   bool
	}{
		{"anna@example.com", true},
		{"anna.nordmann+news@mail.example.no", true},
		{"o'brien@example.ie", true},
		{"åse.ærø@blåbær.no", true},
		{"zażółć@przykład.pl", true},
		{"x@a-b.example", true},
		{"a@b@c.org", false},
		{"a@@b.org", false},
		{".a@b.org", false},
		{"a.@b.org", false},
		{"a..b@c.org", false},
		{"a@b..org", false},
		{"a@.b.org", false},
		{"a@b.org.", false},
		{"a@b", false},
		{"@b.org", false},
		{"a@", false},
		{"a b@c.org", false},
		{"a@-b.org", false},
		{"a@b-.org", false},
		{"a@b.123", false},
		{`"a b"@c.org`, false},
		{"a@[192.0.2.1]", false},
		{"a(comment)@b.org", false},
		{"<a@b.org>", false},
		{"\u212aari@example.com", false}, // the Kelvin sign
		{"anna@exam\u212ale.com", false},
		{"a@b_c.org", false},
	} {
		if got := validEmail(c.addr); got != c.ok {
			t.Errorf("validEmail(%q) = %v, want %v", c.addr, got, c.ok)
		}
		if _, err := NormalizeEmail("email", c.addr); (err == nil) != c.ok {
			t.Errorf("NormalizeEmail(%q) = %v, want ok %v", c.addr, err, c.ok)
		}
		f := &Field{Name: "email", Type: TypeEmail}
		if _, err := f.NormalizeValue(c.addr); (err == nil) != c.ok {
			t.Errorf("an email field took %q: %v, want ok %v", c.addr, err, c.ok)
		}
	}
}

// TestEmailFolding checks the documented normalisation: ASCII and other letters fold to lower
// case and NFC makes composed and decomposed letters equal, but nothing non-ASCII folds into
// ASCII, so look-alike addresses never share a blind index.
func TestEmailFolding(t *testing.T) {
	same := [][2]string{
		{"Anna@Example.COM", "anna@example.com"},
		{" anna@example.com ", "anna@example.com"},
		{"ØYVIND@BLÅBÆR.NO", "øyvind@blåbær.no"},
		{"ZAŻÓŁĆ@example.pl", "zażółć@example.pl"},
		{"re\u0301ne@example.fr", "r\u00e9ne@example.fr"},
		{"STRASSE@example.de", "strasse@example.de"},
	}
	for _, c := range same {
		if a, b := NormalizeLookup(LookupEmail, c[0]), NormalizeLookup(LookupEmail, c[1]); a != b {
			t.Errorf("%q and %q fold to %q and %q, want the same", c[0], c[1], a, b)
		}
	}
	distinct := [][2]string{
		{"\u212aari@example.com", "kari@example.com"}, // Kelvin sign
		{"\u212aARI@example.com", "kari@example.com"},
		{"\u0130da@example.com", "ida@example.com"}, // dotted capital I
		{"\u0130DA@example.com", "IDA@example.com"},
		{"\u0131da@example.com", "ida@example.com"},      // dotless small i
		{"stra\u00dfe@example.de", "strasse@example.de"}, // ß is no "ss"
		{"\u017fam@example.com", "sam@example.com"},      // long s
		{"anna@example.com\u212a", "anna@example.comk"},
	}
	for _, c := range distinct {
		if a, b := NormalizeLookup(LookupEmail, c[0]), NormalizeLookup(LookupEmail, c[1]); a == b {
			t.Errorf("%q and %q both fold to %q: look-alikes must stay distinct", c[0], c[1], a)
		}
	}
	got, err := NormalizeEmail("email", "  Åse.Nordmann@Example.NO ")
	if err != nil || got != "åse.nordmann@example.no" {
		t.Errorf("NormalizeEmail = %q, %v", got, err)
	}
	got, err = NormalizeEmail("email", "\u0130da@example.com")
	if err != nil || got != "\u0130da@example.com" {
		t.Errorf("NormalizeEmail(İda) = %q, %v: İ must be kept, not folded to i", got, err)
	}
}

func FuzzEmailFolding(f *testing.F) {
	for _, s := range []string{"anna@example.com", "\u212aari@example.com", "\u0130da@x.no", "re\u0301ne@x.fr", "a@b@c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		folded := NormalizeLookup(LookupEmail, s)
		if again := NormalizeLookup(LookupEmail, folded); again != folded {
			t.Fatalf("folding is not stable: %q → %q → %q", s, folded, again)
		}
		if norm, err := NormalizeEmail("email", s); err == nil && norm != folded {
			t.Fatalf("stored %q but looked up as %q", norm, folded)
		}
	})
}
