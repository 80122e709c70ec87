package web

import (
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/i18n"
)

func renderer(t *testing.T) *Renderer {
	t.Helper()
	b, err := i18n.New(time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestTemplateKeysExist fails on a message key that a template names and the catalogues
// lack (the catalogue test then checks every language has it).
func TestTemplateKeysExist(t *testing.T) {
	r := renderer(t)
	keys, err := TemplateKeys()
	if err != nil {
		t.Fatal(err)
	}
	cat := r.Bundle().Get("en")
	n := 0
	for file, ks := range keys {
		for _, k := range ks {
			n++
			if !cat.Has(k) {
				t.Errorf("%s names message %s, which is in no catalogue", file, k)
			}
		}
	}
	if n < 50 {
		t.Errorf("only %d message keys found in the templates", n)
	}
}

// TestPagesRender renders every page in every language, for a person and before login, and
// fails on a raw key, inline script or style, or a form without its CSRF field.
func TestPagesRender(t *testing.T) {
	r := renderer(t)
	u := &skjold.User{ID: "u1", Name: "Kari Nordmann", Email: "kari@example.com", Role: skjold.RoleAgent, TenantID: "t1",
		PasswordChangedAt: time.Date(2026, 12, 5, 7, 6, 0, 0, time.UTC)}
	data := map[string]any{"recovery": []string{"abcde-fghij"}, "dashboard": map[string]any{"Work": "dashboard.work_pages", "Pages": []NavItem{{Href: "/console/requests", Key: "nav.requests"}}},
		"sessions": []*skjold.Session{{ID: "s1", Kind: skjold.SessionCookie, Source: "192.0.2.1"}}}
	titles := map[string]string{"error": "error.not_found", "password": "password.forced"}
	for _, lang := range i18n.Languages {
		for _, page := range Pages {
			for _, user := range []*skjold.User{nil, u} {
				v := &View{Cat: r.Bundle().Get(lang), Title: titles[page], CSRF: "token", User: user, Data: data[page],
					Errors: map[string]string{"password": "x"}, Nav: []NavItem{{Href: "/console/", Key: "nav.dashboard"}}}
				if page == "dashboard" && user == nil {
					continue // only for people
				}
				if user != nil {
					v.IdleSeconds = 900
				}
				var b strings.Builder
				if err := r.Render(&b, page, v); err != nil {
					t.Fatalf("%s %s: %v", lang, page, err)
				}
				html := b.String()
				switch {
				case strings.Contains(html, "[["):
					t.Errorf("%s %s: raw message key:\n%s", lang, page, html)
				case strings.Contains(html, "<script>") || strings.Contains(html, "style="):
					t.Errorf("%s %s: inline script or style", lang, page)
				case strings.Count(html, "<form ") != strings.Count(html, `name="csrf" value="token"`):
					t.Errorf("%s %s: a form without its CSRF field", lang, page)
				}
			}
		}
	}
}

// TestPageWeight keeps a page with its CSS and JavaScript under 150 KB.
func TestPageWeight(t *testing.T) {
	r := renderer(t)
	total := 0
	for name := range r.assets {
		b, err := staticFiles.ReadFile("static/" + name)
		if err != nil {
			t.Fatal(err)
		}
		total += len(b)
	}
	if total > 100<<10 {
		t.Errorf("static files weigh %d bytes", total)
	}
}

func TestQRCode(t *testing.T) {
	svg, err := QRCode("otpauth://totp/Skjold:kari@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Skjold", `a "label"`)
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	if !strings.HasPrefix(s, "<svg") || !strings.Contains(s, `aria-label="a &#34;label&#34;"`) || strings.Count(s, "h1v1h-1z") < 100 {
		t.Errorf("QR code SVG: %.300s", s)
	}
}
