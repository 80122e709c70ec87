package alert

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/mail"
)

// TestDispatcherSendsMatchingEvents runs a dispatcher with an e-mail rule (into a real
// outbox) and a webhook rule (to a TLS receiver standing in for the outside system): only
// the named actions raise alerts, webhooks verify, and no field beyond the event's ids goes out.
func TestDispatcherSendsMatchingEvents(t *testing.T) {
	secret := []byte(strings.Repeat("s", MinSecretSize))
	var mu sync.Mutex
	var got []Alert
	recv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := Verify(string(secret), r.Header.Get("Skjold-Timestamp"), string(body), r.Header.Get("Skjold-Signature"),
			time.Now(), time.Minute); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		var a Alert
		json.Unmarshal(body, &a)
		mu.Lock()
		got = append(got, a)
		mu.Unlock()
	}))
	defer recv.Close()
	outDir := filepath.Join(t.TempDir(), "outbox")
	outbox, err := mail.NewOutbox(outDir, "skjold@test.example")
	if err != nil {
		t.Fatal(err)
	}
	rules := []Rule{
		{Actions: []string{"security.ban"}, Email: "security@test.example"},
		{Actions: []string{"security.ban", "auth.lockout"}, Webhook: &Webhook{URL: recv.URL, Secret: secret, Client: recv.Client()}},
	}
	d := NewDispatcher(rules, outbox, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	now := time.Now().UTC()
	d.Notify(&skjold.AuditEvent{Action: "security.ban", Time: now, Actor: "system:threat-detection", Source: "198.51.100.7",
		Fields: []string{"reason:login_failed 10/10m0s"}})
	d.Notify(&skjold.AuditEvent{Action: "auth.lockout", Time: now, Actor: "user:1", Fields: []string{"user:1"}})
	d.Notify(&skjold.AuditEvent{Action: "subject.read", Time: now, Actor: "token:1"}) // not an alert
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Action != "security.ban" || got[1].Action != "auth.lockout" {
		t.Errorf("webhook received %+v, want the ban and the lockout", got)
	}
	files, _ := filepath.Glob(filepath.Join(outDir, "*.eml"))
	if len(files) != 1 {
		t.Fatalf("%d alert e-mails, want 1 (the ban)", len(files))
	}
	raw, _ := os.ReadFile(files[0])
	if !strings.Contains(string(raw), "Subject: Skjold security alert: security.ban") || !strings.Contains(string(raw), "198.51.100.7") {
		t.Errorf("alert e-mail:\n%s", raw)
	}
	if d.Failed() != 0 || d.Dropped() != 0 {
		t.Errorf("failed %d, dropped %d", d.Failed(), d.Dropped())
	}
}

// TestDispatcherCountsFailures: a receiver that keeps failing is tried three times, then
// counted as failed; the dispatcher goes on.
func TestDispatcherCountsFailures(t *testing.T) {
	var calls sync.WaitGroup
	calls.Add(3)
	recv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Done()
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer recv.Close()
	secret := []byte(strings.Repeat("s", MinSecretSize))
	d := NewDispatcher([]Rule{{Actions: []string{"security.ban"}, Webhook: &Webhook{URL: recv.URL, Secret: secret,
		Client: recv.Client()}}}, nil, slog.New(slog.DiscardHandler))
	d.Notify(&skjold.AuditEvent{Action: "security.ban", Time: time.Now()})
	d.deliver(t.Context(), <-d.queue)
	calls.Wait()
	if d.Failed() != 1 {
		t.Errorf("Failed = %d, want 1", d.Failed())
	}
}

// The alert e-mail is in the configured language: labels and sentences translated, the
// audit values (action, ids) as the audit log has them, the labels aligned.
func TestMessageLanguages(t *testing.T) {
	a := Alert{Action: "security.ban", Time: time.Date(2026, 12, 5, 7, 6, 0, 0, time.UTC), Actor: "user:u1",
		TenantID: "t1", Source: "198.51.100.7", Fields: []string{"ip"}}
	for lang, want := range map[string][]string{
		"":   {"Skjold security alert: security.ban", "Skjold recorded a security event.", "Action: security.ban\n", "Time:   2026-12-05T07:06:00Z\n", "From:   198.51.100.7\n"},
		"en": {"Skjold security alert: security.ban", "Detail: ip\n", "The audit log holds the full record."},
		"nb": {"Sikkerhetsvarsel fra Skjold: security.ban", "Skjold har registrert en sikkerhetshendelse.", "Handling:  security.ban\n", "Utført av: user:u1\n", "Kunde:     t1\n"},
		"pl": {"Alert bezpieczeństwa Skjold: security.ban", "Skjold zarejestrował zdarzenie", "Działanie: security.ban\n", "Szczegóły: ip\n"},
	} {
		m := message("ops@example.com", lang, a)
		got := m.Subject + "\n" + m.Body
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%q: alert e-mail lacks %q:\n%s", lang, w, got)
			}
		}
	}
}
