package main

import (
	"bytes"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPrivacyContactBrowser: (e) a tenant administrator turns the contact form on in the
// console and copies its snippet; the snippet, pasted into a page of the tenant's website
// on another origin, sends a visitor's message, which arrives in the outbox; the visitor
// sees the thank-you page; and nothing of the message is stored: not in any file of the
// data directory (the database, its WAL, keys, certificates) and not in the server's log.
func TestPrivacyContactBrowser(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	tok := createTenant(t, s, readToken(t, data), "Fjordklinikken AS")
	email, oneTime := createUser(t, s, tok, "Ingrid Kontakt", "admin")

	b := newTab(t, s, "en")
	const pw = "granite-Puffin-meadow-58"
	adminFirstLogin(t, b, email, oneTime, pw)
	b.open("/console/contact-form")
	b.wantText("Contact form", "Snippet for your website")
	b.do(chromedp.Click("#mode-relay"))
	b.fill("#address", "post@fjordklinikken.example")
	b.submit("form[action='/console/contact-form'] button[type=submit]")
	b.wantText("The contact form settings are saved.")
	snippet := eval[string](b, `document.getElementById("contact-snippet").textContent`)
	if !strings.Contains(snippet, `action="`+s.url+`/p/fjordklinikken-as/contact"`) {
		t.Fatalf("the snippet posts elsewhere:\n%s", snippet)
	}

	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><html lang="en"><head><title>Fjordklinikken</title></head><body><h1>Write to us</h1>` + snippet + `</body></html>`))
	}))
	defer site.Close()

	const marker = "qx9contactmarker"
	v := newTab(t, s, "en")
	v.do(chromedp.Navigate(site.URL+"/contact.html"), chromedp.WaitReady("body"))
	v.fill("input[name=name]", "Nils "+marker)
	v.fill("input[name=email]", marker+"@visitor.example")
	v.fill("textarea[name=message]", "Do you have an appointment on Friday? "+marker)
	v.submit("button[type=submit]")
	v.wantPath("/p/fjordklinikken-as/contact")
	v.wantText("Thank you, your message is sent", "not stored here")
	v.page("privacy-contact-thanks")

	body := outboxFind(t, data, "post@fjordklinikken.example", func(body string) bool { return strings.Contains(body, marker) })
	for _, want := range []string{"Nils " + marker, marker + "@visitor.example", "appointment on Friday"} {
		if !strings.Contains(body, want) {
			t.Errorf("the relayed mail lacks %q:\n%s", want, body)
		}
	}
	scanned := 0
	err := filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "outbox" {
				return filepath.SkipDir // the relayed mail itself, removed by outboxFind
			}
			return nil
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		scanned++
		if bytes.Contains(bytes.ToLower(raw), []byte(marker)) {
			t.Errorf("%s holds part of the message", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "skjold.db-wal")); err != nil || scanned < 3 {
		t.Fatalf("the WAL was not scanned (%v; %d files)", err, scanned)
	}
	// the console shows the day's count, and only that
	b.open("/console/contact-form")
	if got := eval[string](b, `document.querySelector("main table tbody td:last-child").textContent`); got != "1" {
		t.Errorf("the day's count shows %q", got)
	}
	b.page("privacy-contact-settings")
	time.Sleep(100 * time.Millisecond) // the request's log line is written after the answer
	if strings.Contains(s.stdout.String()+s.stderr.String(), marker) {
		t.Error("the server's log holds part of the message")
	}
}
