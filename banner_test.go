package skjold

import (
	"strings"
	"testing"
)

// TestNormalizeOrigin checks which strings name a website origin, and their normal form.
func TestNormalizeOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://www.example.com":      "https://www.example.com",
		"HTTPS://WWW.Example.com/":     "https://www.example.com",
		" http://127.0.0.1:8080 ":      "http://127.0.0.1:8080",
		"https://www.example.com/shop": "",
		"https://www.example.com?x=1":  "",
		"https://www.example.com#top":  "",
		"https://user@www.example.com": "",
		"ftp://example.com":            "",
		"javascript:alert(1)":          "",
		"www.example.com":              "",
		"":                             "",
		"https://":                     "",
	} {
		got, ok := NormalizeOrigin(in)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// FuzzNormalizeOrigin checks that an accepted origin is its own normal form, lower-case,
// with a scheme and host and nothing after.
func FuzzNormalizeOrigin(f *testing.F) {
	for _, s := range []string{"https://www.example.com", "http://127.0.0.1:8080/", "https://a/b", "HTTP://X"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := NormalizeOrigin(s)
		if !ok {
			return
		}
		again, ok2 := NormalizeOrigin(got)
		if !ok2 || again != got || got != strings.ToLower(got) ||
			!(strings.HasPrefix(got, "https://") || strings.HasPrefix(got, "http://")) {
			t.Fatalf("NormalizeOrigin(%q) = %q, which normalises to %q, %v", s, got, again, ok2)
		}
	})
}

// TestReceiptValidate checks a receipt against its banner.
func TestReceiptValidate(t *testing.T) {
	b := &BannerConfig{Purposes: []*BannerPurpose{{Name: "analytics", NoticeVersion: 2}}}
	good := func() *ConsentReceipt {
		return &ConsentReceipt{ConsentID: strings.Repeat("0a", 16), Method: ReceiptChoose,
			Choices: map[string]bool{"analytics": true}, NoticeVersions: map[string]int{"analytics": 1}}
	}
	if err := good().Validate(b); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*ConsentReceipt){
		"short id":     func(r *ConsentReceipt) { r.ConsentID = "0a" },
		"upper id":     func(r *ConsentReceipt) { r.ConsentID = strings.Repeat("0A", 16) },
		"method":       func(r *ConsentReceipt) { r.Method = "" },
		"no choice":    func(r *ConsentReceipt) { r.Choices = nil },
		"future":       func(r *ConsentReceipt) { r.NoticeVersions["analytics"] = 3 },
		"zero version": func(r *ConsentReceipt) { r.NoticeVersions["analytics"] = 0 },
		"swapped":      func(r *ConsentReceipt) { r.Choices = map[string]bool{"pixels": true} },
	} {
		r := good()
		change(r)
		if ErrorCode(r.Validate(b)) != EINVALID {
			t.Errorf("%s: accepted", name)
		}
	}
}
